// `multiproc map` throughput (lines/s) on a trivial and a CPU-ish per-line task,
// with 1 and 2 workers, and its peak memory on an input larger than what it holds.
//
//   node --import tsx bench/cli_map.ts [lines=1000000] [largeMB=200]
//
// Each run is a child process (`node --import tsx src/cli/main.ts map ... --stats`);
// the numbers are the CLI's own report: lines/s from its first line read to its
// last line written, peak RSS from process.resourceUsage().
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const LINES = Number(process.argv[2] ?? 1_000_000)
const LARGE_MB = Number(process.argv[3] ?? 200)
const root = fileURLToPath(new URL('..', import.meta.url))
const tasks = 'bench/cli_map_tasks.ts'

function run(args: string[]): { rate: number; rssMb: number; seconds: number } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'map', ...args, '--stats', '--no-progress'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const out = child.stderr
  const m = /([\d.]+) s, ([\d,]+) lines\/s, peak RSS (\d+) MB/.exec(out)
  if (m === null) throw new Error(`no stats in ${out}`)
  return { seconds: Number(m[1]), rate: Number(m[2]!.replace(/,/g, '')), rssMb: Number(m[3]) }
}

const dir = mkdtempSync(join(tmpdir(), 'multiproc-bench-cli-'))
try {
  const input = join(dir, 'input.txt')
  writeFileSync(input, Array.from({ length: LINES }, (_, i) => `line ${i + 1} of the benchmark input`).join('\n') + '\n')
  const cpuLines = Math.min(LINES, 200_000)
  const cpuInput = join(dir, 'cpu-input.txt')
  writeFileSync(cpuInput, Array.from({ length: cpuLines }, (_, i) => `line ${i + 1} of the benchmark input`).join('\n') + '\n')

  console.log(`multiproc map, thread backend, output to a file\n`)
  console.log('task      lines      workers  seconds    lines/s  peak RSS')
  for (const [task, file, lines] of [
    ['trivial', input, LINES],
    ['cpuish', cpuInput, cpuLines],
  ] as const) {
    const rates: number[] = []
    for (const workers of [1, 2]) {
      const r = run([`${tasks}#${task}`, file, '-o', join(dir, 'out.txt'), '-j', String(workers)])
      rates.push(r.rate)
      console.log(
        `${task.padEnd(8)} ${lines.toLocaleString('en-US').padStart(9)}  ${String(workers).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.rate.toLocaleString('en-US').padStart(9)}  ${String(r.rssMb).padStart(5)} MB`,
      )
    }
    console.log(`${''.padEnd(8)} speedup with 2 workers: ${(rates[1]! / rates[0]!).toFixed(2)}x`)
  }

  // Peak memory against input size: a large input and one a tenth of its size.
  const large = join(dir, 'large.txt')
  const writer = createWriteStream(large)
  const block = Array.from({ length: 10_000 }, (_, i) => `line ${i} of a large input, padded to about sixty bytes.....`).join('\n') + '\n'
  for (let written = 0; written < LARGE_MB * 1024 * 1024; written += block.length) {
    if (!writer.write(block)) await once(writer, 'drain')
  }
  writer.end()
  await once(writer, 'finish')
  const small = join(dir, 'small.txt')
  writeFileSync(small, block.repeat(Math.max(1, Math.round((LARGE_MB * 1024 * 1024) / 10 / block.length))))
  console.log('\npeak RSS against input size (trivial task, 2 workers, output to a file)')
  for (const file of [small, large]) {
    const r = run([`${tasks}#trivial`, file, '-o', join(dir, 'out.txt'), '-j', '2'])
    console.log(`input ${(statSync(file).size / 1024 / 1024).toFixed(0).padStart(5)} MB: peak RSS ${r.rssMb} MB, ${r.rate.toLocaleString('en-US')} lines/s`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// The main job: process a file of lines with every CPU, output in input order.
//
//   npm start                       # 20,000 generated lines, 1 worker vs all CPUs
//   npm start -- --lines 100000
//
// It writes the input and output under a temporary directory, checks that
// every output line is in its place, and prints throughput and speedup.
// `multiproc map` does the same job from the shell (see the README).
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { once } from 'node:events'
import { ThreadPoolExecutor, cpuCount, cpuInfo } from '../src/index.js'
import { digestLine } from './text_tasks.js'

const args = process.argv.slice(2)
const at = args.indexOf('--lines')
const lines = (at >= 0 ? Number(args[at + 1]) : 20000) || 20000

/** Milliseconds of the job on `workers` warm workers, and of warming them. */
async function run(workers: number, input: string, output: string): Promise<{ ms: number; warmMs: number }> {
  await using executor = new ThreadPoolExecutor({ maxWorkers: workers })
  // Warm-up, outside the timed run: start every worker and load the task
  // module in each (under tsx it is compiled there), a one-off cost, not a per-line one.
  const warmStart = performance.now()
  for await (const _ of executor.map(digestLine, Array.from({ length: 4 * workers }, (_, i) => `warm-up ${i}`))) {
    // nothing to keep
  }
  const warmMs = performance.now() - warmStart
  const reader = createInterface({ input: createReadStream(input), crlfDelay: Infinity })
  const writer = createWriteStream(output)
  const start = performance.now()
  for await (const result of executor.map(digestLine, reader)) {
    if (!writer.write(`${result}\n`)) await once(writer, 'drain')
  }
  writer.end()
  await once(writer, 'finish')
  return { ms: performance.now() - start, warmMs }
}

const dir = mkdtempSync(join(tmpdir(), 'multiproc-demo-'))
try {
  const input = join(dir, 'input.txt')
  writeFileSync(input, Array.from({ length: lines }, (_, i) => `line ${i + 1} of ${lines}`).join('\n') + '\n')
  const info = cpuInfo()
  console.log(`multiproc demo: ${lines} lines, cpuCount() = ${info.count} (decided by ${info.decidedBy})`)

  const { ms: oneMs, warmMs: oneWarmMs } = await run(1, input, join(dir, 'out-1.txt'))
  const n = cpuCount()
  const { ms: allMs, warmMs: allWarmMs } = await run(n, input, join(dir, `out-${n}.txt`))

  // Every line in its place, and the same output with 1 and n workers.
  const one = readFileSync(join(dir, 'out-1.txt'), 'utf8').split('\n')
  const all = readFileSync(join(dir, `out-${n}.txt`), 'utf8').split('\n')
  for (let i = 0; i < lines; i++) {
    if (!all[i]!.endsWith(` line ${i + 1} of ${lines}`) || all[i] !== one[i]) {
      throw new Error(`line ${i + 1} is out of place: ${all[i]}`)
    }
  }
  const rate = (ms: number) => Math.round(lines / (ms / 1000)).toLocaleString('en-US')
  console.log(`1 worker : ${(oneMs / 1000).toFixed(2)} s, ${rate(oneMs)} lines/s`)
  console.log(`${n} workers: ${(allMs / 1000).toFixed(2)} s, ${rate(allMs)} lines/s`)
  console.log(`speedup ${(oneMs / allMs).toFixed(2)}x on ${n} CPUs; all ${lines} lines in input order`)
  console.log(
    `both times are of warm workers: starting them and loading the task module in each (tsx compiles it), a one-off cost, took ${oneWarmMs.toFixed(0)} ms (1 worker) and ${allWarmMs.toFixed(0)} ms (${n} workers) before`,
  )
  console.log('the same job from the shell: npm run multiproc -- map examples/text_tasks.ts#digestLine <input> -o <output> --progress')
} finally {
  rmSync(dir, { recursive: true, force: true })
}

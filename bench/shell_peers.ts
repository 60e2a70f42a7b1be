// `multiproc map` and what a user would run instead on a file of lines: one
// plain node process, `split | xargs -P2 node`, GNU `parallel --pipepart`.
// The commands, their per-line work (a trivial task and a CPU task, as
// JavaScript, so no loader runs in any process) and their input files; used
// by the suite's cli-* cases (measure.ts) and by bench/cli_vs_shell.ts.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const TASKS_MODULE = `import { createHash } from 'node:crypto'
export function trivial(line) { return line }
export function cpuish(line) {
  let digest = line
  for (let i = 0; i < 8; i++) digest = createHash('sha256').update(digest).digest('hex')
  return digest.slice(0, 16)
}
`

// One node process doing the same work, streamed: node single.mjs <task> [in|-] [out|-]
export const SINGLE_PROCESS = `import { createReadStream, createWriteStream } from 'node:fs'
const [name, input = '-', output = '-'] = process.argv.slice(2)
const fn = (await import('./tasks.mjs'))[name]
const src = input === '-' ? process.stdin : createReadStream(input, { highWaterMark: 1 << 20 })
const dst = output === '-' ? process.stdout : createWriteStream(output)
src.setEncoding('utf8')
let carry = ''
for await (const chunk of src) {
  const lines = (carry + chunk).split('\\n')
  carry = lines.pop()
  let out = ''
  for (const line of lines) out += fn(line) + '\\n'
  if (!dst.write(out)) await new Promise((resolve) => dst.once('drain', resolve))
}
if (carry !== '') dst.write(fn(carry) + '\\n')
dst.end()
`

/** The peers by name, as the suite's cases list them. */
export const SHELL_LIBS = ['node', 'xargs -P2', 'parallel -j2', 'multiproc -j1', 'multiproc -j2'] as const
export type ShellLib = (typeof SHELL_LIBS)[number]

export type LineTask = 'trivial' | 'cpuish'

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/**
 * Null when GNU parallel can run; otherwise why not. It is installed from
 * the distribution's packages when missing (apt-get, as root).
 */
export function ensureParallel(): string | null {
  if (have('parallel')) return null
  if (process.getuid?.() !== 0) return 'GNU parallel is not installed and this is not root: its rows are skipped'
  const r = spawnSync('sh', ['-c', 'apt-get install -y parallel || (apt-get update && apt-get install -y parallel)'], { stdio: 'ignore', timeout: 300_000 })
  return r.status === 0 && have('parallel') ? null : 'GNU parallel could not be installed with apt-get: its rows are skipped'
}

/**
 * A directory holding tasks.mjs, single.mjs and `<task>.txt` of `lines`
 * lines (made once per size and reused: the input is the same every round).
 */
export function workDir(task: LineTask, lines: number): string {
  const dir = join(tmpdir(), `multiproc-bench-lines-${task}-${lines}`)
  const input = join(dir, `${task}.txt`)
  if (!existsSync(input)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'tasks.mjs'), TASKS_MODULE)
    writeFileSync(join(dir, 'single.mjs'), SINGLE_PROCESS)
    const partial = `${input}.${process.pid}`
    writeFileSync(partial, Array.from({ length: lines }, (_, i) => `line ${i + 1} of the benchmark input`).join('\n') + '\n')
    spawnSync('mv', [partial, input])
  }
  return dir
}

/** The shell command of `lib` over `<task>.txt`, writing `out` (run in the work directory). */
export function shellCommand(lib: ShellLib, task: LineTask, out: string, cli: string): string {
  switch (lib) {
    case 'node':
      return `node single.mjs ${task} ${task}.txt ${out}`
    case 'xargs -P2':
      return `rm -rf x.${out} && mkdir x.${out} && split -n l/2 ${task}.txt x.${out}/part. && ls x.${out}/part.* | xargs -P2 -I{} node single.mjs ${task} {} {}.out && cat x.${out}/part.*.out > ${out} && rm -rf x.${out}`
    case 'parallel -j2':
      return `parallel --pipepart -a ${task}.txt --block -1 -j2 -k node single.mjs ${task} > ${out}`
    case 'multiproc -j1':
      return `node ${cli} map tasks.mjs#${task} ${task}.txt -o ${out} -j 1`
    case 'multiproc -j2':
      return `node ${cli} map tasks.mjs#${task} ${task}.txt -o ${out} -j 2`
  }
}

/**
 * `multiproc map <module>#<export> [input] [-o output] ...`: the task on
 * every line of a file or stdin, results to a file or stdout, in input order.
 * Arguments, input and output here; the run itself (blocks of input bytes
 * to workers, their output bytes written in order) is MapRun's, map_run.ts.
 */
import { lstat, open, realpath } from 'node:fs/promises'
import { once } from 'node:events'
import { createWriteStream, statSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { cpuCount } from '../cpu_count.js'
import { EXIT, UsageError, choiceOption, integerOption, maxPositionals, parseCommand } from './args.js'
import type { MapInput, MapRun } from './map_run.js'
import { BACKENDS, DEFAULT_NATS_URL, type BackendName } from './backend_names.js'
import { startWorkers } from './map_workers.js'
import { ParallelGate, workersAtStart } from './map_gate.js'
import { LINE_BLOCK_MODULE, LINE_BLOCK_TASKS } from './map_tasks.js'
import { discardSpareThreads, startSpareThreads } from '../backends/thread/thread_start.js'
import { ProgressBar, formatCount } from '../progress_bar.js'
import { parseTaskSpec, type TaskSpec } from './task_spec.js'
import { enableTypeScript } from './typescript.js'

export const MAP_USAGE = `Usage: multiproc map <module>#<export> [input] [options]

Runs the exported function on every line of [input] (a file; stdin when absent
or "-") on every CPU, and writes one result per line, in input order.

Options:
  -o, --output <file>        write results to <file> (default: stdout)
  -j, --jobs <n>             workers (default: cpuCount())
  --backend <name>           thread (default), process, inline or nats
  --nats <url>               NATS server for --backend nats (default ${DEFAULT_NATS_URL})
  --unordered                write results as they finish, not in input order
  --chunksize <n>            lines per block sent to a worker (default: bytes sized from measured times)
  --concurrent-tasks <n>     lines each worker runs at once, for an async function that
                             awaits I/O (default 1; a synchronous one gains nothing)
  --json                     lines are JSON values (JSON Lines); results are written as JSON
  --on-error <mode>          fail (default): stop at the first failing line
                             skip: leave failing lines out; log: leave them out and print them
  --progress, --no-progress  progress bar on stderr (default: when stderr is a terminal)
  --stats                    print lines, failures, time, lines/s and peak memory at the end
  -h, --help                 this help

A string result is written as is, null and undefined as an empty line, other
values as JSON. Exit codes: 0 done, 1 stopped by a failing line or an error,
2 bad arguments, 3 done with failed lines skipped or logged, 130 Ctrl-C.`

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  jobs: { type: 'string', short: 'j' },
  backend: { type: 'string' },
  nats: { type: 'string' },
  unordered: { type: 'boolean' },
  chunksize: { type: 'string' },
  'concurrent-tasks': { type: 'string' },
  json: { type: 'boolean' },
  'on-error': { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

export async function runMapCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('map', argv, OPTIONS)
  if (values.help) {
    process.stdout.write(`${MAP_USAGE}\n`)
    return EXIT.OK
  }
  if (positionals.length === 0) throw new UsageError('multiproc map: missing the task, as <module>#<export>')
  maxPositionals('map', positionals, 2)
  const spec = parseTaskSpec(positionals[0]!)
  const inputPath = positionals[1] === undefined || positionals[1] === '-' ? null : positionals[1]
  const jobs = integerOption('jobs', values.jobs, 1, 1024) ?? cpuCount()
  const backend = choiceOption('backend', values.backend, BACKENDS, 'thread')
  const fixedChunk = integerOption('chunksize', values.chunksize, 1, 1_000_000)
  const concurrency = integerOption('concurrent-tasks', values['concurrent-tasks'], 1, 65_536) ?? 1
  const onError = choiceOption('on-error', values['on-error'], ['fail', 'skip', 'log'] as const, 'fail')
  if (values.progress && values['no-progress']) throw new UsageError('multiproc map: --progress and --no-progress contradict each other')
  if (values.nats !== undefined && backend !== 'nats') throw new UsageError('multiproc map: --nats needs --backend nats')
  if (concurrency > 1 && backend === 'nats') {
    throw new UsageError('multiproc map: --concurrent-tasks is for local workers; cluster workers run as many tasks at once as they were started with (multiproc worker --concurrency)')
  }
  const showProgress = values.progress ?? (values['no-progress'] ? false : process.stderr.isTTY === true)
  if (spec.typescript) await enableTypeScript(spec.path)
  // The threads the run begins with start now, each loading the block task,
  // while this thread loads the executor (thread_start.ts); the executor
  // takes them as its first workers. None for an input that is not there.
  if (backend === 'thread') startSpareThreads(workersAtStart(inputSizeOf(inputPath), jobs), [LINE_BLOCK_MODULE])
  try {
    return await runMap({ values, spec, inputPath, jobs, backend, fixedChunk, concurrency, onError, showProgress })
  } finally {
    discardSpareThreads()
  }
}

/** Bytes of a regular input file; NaN for stdin or another stream, 0 when it cannot be read. */
function inputSizeOf(path: string | null): number {
  if (path === null) return NaN
  try {
    const stat = statSync(path, { throwIfNoEntry: false })
    return stat === undefined ? 0 : stat.isFile() ? stat.size : NaN
  } catch {
    return 0 // not readable: opening it fails with the reason
  }
}

type MapValues = ReturnType<typeof parseCommand<typeof OPTIONS>>['values']

interface MapCommand {
  values: MapValues
  spec: TaskSpec
  inputPath: string | null
  jobs: number
  backend: BackendName
  fixedChunk: number | undefined
  concurrency: number
  onError: 'fail' | 'skip' | 'log'
  showProgress: boolean
}

/** The run, once the arguments are read: input and output opened, the workers started, the lines mapped. */
async function runMap({ values, spec, inputPath, jobs, backend, fixedChunk, concurrency, onError, showProgress }: MapCommand): Promise<number> {
  // A local executor's modules (the longest import of a run) load while the
  // input and the output are opened; no worker starts before both are open
  // (MapRun starts them): a typo costs nothing. A cluster pool is made only
  // then, as it connects at once.
  const loading = backend === 'nats' ? null : startWorkers(backend, jobs, values.nats, concurrency)
  // When the input or the output cannot be opened, nobody awaits it.
  loading?.catch(() => {})
  let input: MapInput
  let inputSize = NaN
  if (inputPath === null) {
    input = { stream: process.stdin }
  } else {
    const handle = await open(inputPath, 'r').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`multiproc map: cannot read ${inputPath}: ${error.code ?? error.message}`)
    })
    const stat = await handle.stat()
    // Workers read a regular file themselves, by offset, under a name that is
    // the same file for them (not /dev/stdin, which is theirs in a process).
    const file = stat.isFile() ? await realpath(inputPath).catch(() => null) : null
    const same = file === null ? null : await lstat(file).catch(() => null)
    if (file !== null && same !== null && same.ino === stat.ino && same.dev === stat.dev) {
      inputSize = stat.size
      input = { file, handle }
    } else {
      if (stat.isFile()) inputSize = stat.size
      input = { stream: handle.createReadStream({ highWaterMark: 1 << 20 }) }
    }
  }
  let output: Writable
  if (values.output === undefined) {
    output = process.stdout
  } else {
    const file = createWriteStream(values.output)
    await Promise.race([once(file, 'open'), once(file, 'error')]).catch((error: NodeJS.ErrnoException) => {
      if ('stream' in input) input.stream.destroy()
      else void input.handle.close()
      throw new UsageError(`multiproc map: cannot write ${values.output}: ${error.code ?? error.message}`)
    })
    output = file
  }

  const workers = await (loading ?? startWorkers(backend, jobs, values.nats, concurrency))
  // The gate starts the first worker (all of them for a large file): the run's own modules load while they start.
  const lineBatches = backend === 'nats'
  const gate = new ParallelGate(lineBatches ? 0 : inputSize, workers.count, (n) => workers.warm(n, LINE_BLOCK_TASKS.warm, [spec.href, spec.name]), workers.concurrency)
  const { MapRun } = await import('./map_run.js')
  const run = new MapRun({ workers, spec, json: values.json === true, onError, fixedChunk, unordered: values.unordered === true, inputSize, lineBatches, gate })
  const progress = showProgress ? new ProgressBar({ stream: process.stderr, enabled: true, unit: 'lines', state: () => run.progressState(), stats: () => workers.stats() }) : null
  const onSigint = (): void => {
    if (run.interrupted) process.exit(EXIT.INTERRUPTED) // a second Ctrl-C does not wait
    run.interrupt()
  }
  process.on('SIGINT', onSigint)
  const started = performance.now()
  let code: number
  try {
    code = await run.execute(input, output)
  } finally {
    process.off('SIGINT', onSigint)
    progress?.stop()
  }
  if (output !== process.stdout) {
    output.end()
    await once(output, 'finish').catch(() => {})
  }
  report(run, code, values.stats === true, performance.now() - started)
  return code
}

function report(run: MapRun, code: number, stats: boolean, ms: number): void {
  const err = process.stderr
  if (code === EXIT.INTERRUPTED) err.write(`multiproc map: interrupted; the output holds the results of ${plural(run.written, 'line')}\n`)
  if (run.fatal !== null) err.write(`multiproc map: ${run.fatal}\n`)
  if (run.failed > 0 && run.onError !== 'fail') {
    err.write(`multiproc map: ${plural(run.failed, 'line')} of ${formatCount(run.done)} failed and ${run.failed === 1 ? 'was' : 'were'} ${run.onError === 'skip' ? 'skipped' : 'logged and left out'}\n`)
  }
  if (stats) {
    const rss = process.resourceUsage().maxRSS / 1024
    err.write(
      `multiproc map: ${plural(run.done, 'line')}, ${formatCount(run.failed)} failed, ${(ms / 1000).toFixed(2)} s, ` +
        `${formatCount(run.done / (ms / 1000))} lines/s, peak RSS ${rss.toFixed(0)} MB\n`,
    )
  }
}

function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`
}

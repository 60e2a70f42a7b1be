/**
 * `multiproc map <module>#<export> [input] [-o output] ...`: the task on
 * every line of a file or stdin, results to a file or stdout, in input order.
 *
 *   input ──lineBatches──▶ Pool.imap(runLineBatch) ──in order──▶ output
 *          (read on demand)   (bounded window of batches)        (buffered, backpressure)
 *
 * Lines travel in batches, one task each, sized from measured times so a
 * batch runs about BATCH_TARGET_MS: the main thread moves a few messages,
 * not a message per line. When a worker dies inside a batch, that batch
 * runs again with each line an item of a map chunk (`#pinpoint`), whose
 * per-item progress names the line that ends its worker and delivers the
 * lines before it. Memory is bounded by the window (batches in flight ×
 * their size), never by the input. Output is written in input order, whole
 * lines, at least every OUTPUT_FLUSH_MS, so the output is always a prefix of
 * the full result made of whole lines: on Ctrl-C, on a failing line, on a
 * crash.
 */
import { open } from 'node:fs/promises'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { cpuCount } from '../cpu_count.js'
import { CancelledError, TaskImportError, TaskNotFoundError, WorkerCrashedError } from '../errors.js'
import type { Pool } from '../pool.js'
import { EXIT, UsageError, choiceOption, integerOption, maxPositionals, parseCommand } from './args.js'
import { BACKENDS, contextFor, DEFAULT_NATS_URL } from './backend.js'
import { lineBatches, type LineBatch } from './line_batches.js'
import { runLine, runLineBatch, type LineBatchJob, type LineBatchResult, type LineFailure, type LineItem, type LineSpec } from './line_task.js'
import { Progress, formatCount } from './progress.js'
import { parseTaskSpec } from './task_spec.js'
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
  --chunksize <n>            lines per batch sent to a worker (default: sized from measured times)
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
  json: { type: 'boolean' },
  'on-error': { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Target worker time per batch when sizing batches from measurements. */
const BATCH_TARGET_MS = 4
const BATCH_MAX_LINES = 4096
/** About 64 KiB of text per batch: with the window of 16 to 4 × workers batches, about a MiB of input in flight. */
const BATCH_MAX_CHARS = 64 * 1024
/** Output is written when this much is buffered, or this long after the first buffered line. */
const OUTPUT_FLUSH_CHARS = 64 * 1024
const OUTPUT_FLUSH_MS = 20

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
  const onError = choiceOption('on-error', values['on-error'], ['fail', 'skip', 'log'] as const, 'fail')
  if (values.progress && values['no-progress']) throw new UsageError('multiproc map: --progress and --no-progress contradict each other')
  if (values.nats !== undefined && backend !== 'nats') throw new UsageError('multiproc map: --nats needs --backend nats')
  const showProgress = values.progress ?? (values['no-progress'] ? false : process.stderr.isTTY === true)
  if (spec.typescript) await enableTypeScript(spec.path)
  const context = contextFor(backend, values.nats)

  // Open the input and the output before starting any worker: a typo costs nothing.
  let input: Readable
  let inputSize = NaN
  if (inputPath === null) {
    input = process.stdin
  } else {
    const handle = await open(inputPath, 'r').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`multiproc map: cannot read ${inputPath}: ${error.code ?? error.message}`)
    })
    const stat = await handle.stat()
    if (stat.isFile()) inputSize = stat.size
    input = handle.createReadStream({ highWaterMark: 1 << 20 })
  }
  let output: Writable
  if (values.output === undefined) {
    output = process.stdout
  } else {
    const file = createWriteStream(values.output)
    await Promise.race([once(file, 'open'), once(file, 'error')]).catch((error: NodeJS.ErrnoException) => {
      input.destroy()
      throw new UsageError(`multiproc map: cannot write ${values.output}: ${error.code ?? error.message}`)
    })
    output = file
  }

  const pool: Pool = new context.Pool({ processes: jobs })
  const run = new MapRun({ pool, spec, json: values.json === true, onError, fixedChunk, unordered: values.unordered === true, inputSize })
  const progress = showProgress ? new Progress(process.stderr, () => run.progressState()) : null
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

interface MapRunOptions {
  pool: Pool
  spec: { href: string; name: string }
  json: boolean
  onError: 'fail' | 'skip' | 'log'
  fixedChunk: number | undefined
  unordered: boolean
  inputSize: number
}

/** One run of `map`: its counters, its batch sizing, its stop conditions. */
class MapRun {
  readonly onError: 'fail' | 'skip' | 'log'
  readonly #options: MapRunOptions
  readonly #abort = new AbortController()
  #interrupted = false
  #perLineMs = NaN
  #batchSize: number
  /** Lines handled (written, skipped or failed). */
  done = 0
  /** Lines whose result is in the output. */
  written = 0
  failed = 0
  #charsDone = 0
  /** Why the run stopped early, for stderr. */
  fatal: string | null = null

  constructor(options: MapRunOptions) {
    this.#options = options
    this.onError = options.onError
    this.#batchSize = options.fixedChunk ?? 1
  }

  get interrupted(): boolean {
    return this.#interrupted
  }

  interrupt(): void {
    this.#interrupted = true
    this.#abort.abort()
  }

  progressState() {
    return { items: this.done, failed: this.failed, fraction: this.#charsDone / this.#options.inputSize }
  }

  /** Sizes batches so that each runs about BATCH_TARGET_MS in a worker. */
  #learn(result: LineBatchResult): void {
    if (this.#options.fixedChunk !== undefined || result.count === 0) return
    const sample = result.ms / result.count
    this.#perLineMs = Number.isNaN(this.#perLineMs) ? sample : this.#perLineMs * 0.7 + sample * 0.3
    const ideal = this.#perLineMs > 0 ? Math.floor(BATCH_TARGET_MS / this.#perLineMs) : BATCH_MAX_LINES
    this.#batchSize = Math.max(1, Math.min(BATCH_MAX_LINES, ideal))
  }

  /** Counts failed lines; under `--on-error fail` the first one stops the run (returns false). */
  #failures(failures: LineFailure[]): boolean {
    this.failed += failures.length
    this.written = this.done - this.failed
    if (this.onError === 'fail') {
      this.fatal = describeFailure(failures[0]!)
      return false
    }
    if (this.onError === 'log') for (const f of failures) process.stderr.write(`multiproc map: line ${f.line}: ${f.name}: ${f.message}\n`)
    return true
  }

  async execute(input: Readable, output: Writable): Promise<number> {
    const { pool, spec, json, onError, unordered } = this.#options
    // Batches sent and not yet written, by first line: after a crash, the one that was running.
    const sent = new Map<number, LineBatch>()
    const batches = lineBatches(input, { size: () => this.#batchSize, maxChars: BATCH_MAX_CHARS })
    const jobs = (async function* (): AsyncGenerator<LineBatchJob> {
      for await (const batch of batches as AsyncIterable<LineBatch>) {
        sent.set(batch.first, batch)
        yield { module: spec.href, name: spec.name, json, stopOnError: onError === 'fail', first: batch.first, lines: batch.lines }
      }
    })()
    let outputError: Error | null = null
    const onOutputError = (error: NodeJS.ErrnoException): void => {
      outputError = error
      this.interrupt()
    }
    output.on('error', onOutputError)
    const interrupted = new Promise<void>((resolve) => this.#abort.signal.addEventListener('abort', () => resolve(), { once: true }))
    // Whole lines, in order, written in pieces of up to OUTPUT_FLUSH_CHARS, at most OUTPUT_FLUSH_MS late.
    let pending = ''
    let timer: NodeJS.Timeout | undefined
    const writeOut = (): boolean => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      if (pending === '') return true
      const text = pending
      pending = ''
      return output.write(text)
    }
    const emit = async (text: string): Promise<void> => {
      if (text === '') return
      pending += text
      if (pending.length >= OUTPUT_FLUSH_CHARS) {
        if (!writeOut()) await Promise.race([once(output, 'drain'), interrupted])
      } else {
        timer ??= setTimeout(writeOut, OUTPUT_FLUSH_MS)
      }
    }
    const options = { chunksize: 1, buffersize: Math.max(16, 4 * pool.processes), signal: this.#abort.signal }
    const results = unordered ? pool.imapUnordered(runLineBatch, jobs, options) : pool.imap(runLineBatch, jobs, options)
    let code: number = EXIT.OK
    try {
      for await (const result of results) {
        if (this.#interrupted) break
        await emit(result.text)
        this.done += result.count
        this.written = this.done - this.failed
        this.#charsDone += sent.get(result.first)?.chars ?? 0
        sent.delete(result.first)
        if (result.failures !== undefined && !this.#failures(result.failures)) {
          code = EXIT.FAILURE
          break
        }
        this.#learn(result)
        if (this.#interrupted) break
      }
    } catch (error) {
      if (!(this.#interrupted && error instanceof CancelledError)) {
        code = error instanceof TaskNotFoundError ? EXIT.USAGE : EXIT.FAILURE
        const running = unordered ? undefined : sent.get(this.done + 1)
        if (error instanceof WorkerCrashedError && running !== undefined) {
          code = await this.#pinpoint(running, error, emit)
        } else {
          this.fatal =
            error instanceof WorkerCrashedError
              ? `a worker crashed on one of the lines not in the output: ${error.message}`
              : error instanceof TaskImportError
                ? `${error.message}${error.cause instanceof Error && error.cause.stack ? `\n${ownFrames(error.cause.stack)}` : ''}`
                : `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`
        }
      }
    } finally {
      // Every finished line before the stop goes out: the output stays a prefix of whole lines.
      writeOut()
      output.off('error', onOutputError)
      if (code !== EXIT.OK || this.#interrupted) {
        await pool.terminate()
      } else {
        pool.close()
        await pool.join()
      }
      input.destroy()
    }
    if (outputError !== null) {
      // The reader of our output went away (`| head`): not a failure of the run.
      if ((outputError as NodeJS.ErrnoException).code === 'EPIPE') return code === EXIT.OK ? EXIT.OK : code
      this.fatal = `cannot write the output: ${(outputError as Error).message}`
      return EXIT.FAILURE
    }
    if (this.#interrupted) return EXIT.INTERRUPTED
    if (code === EXIT.OK && this.failed > 0) return EXIT.PARTIAL
    return code
  }

  /**
   * A worker died while running `batch` (as one task, its finished lines
   * died with it). The batch runs again with each line an item of a map
   * chunk, whose per-item progress names the line that ends its worker and
   * delivers every line before it: they are written, and the run stops there.
   * A batch that does not crash again has its output written, and the run
   * stops after it all the same (the input read ahead went with the crash).
   */
  async #pinpoint(batch: LineBatch, crash: WorkerCrashedError, emit: (text: string) => Promise<void>): Promise<number> {
    const { pool, spec, json } = this.#options
    const lineSpec: LineSpec = { module: spec.href, name: spec.name, json }
    const items = batch.lines.map((text, i): LineItem => [lineSpec, batch.first + i, text])
    try {
      for await (const outcome of pool.imap(runLine, items, { chunksize: 'auto', signal: this.#abort.signal })) {
        this.done++
        if (typeof outcome === 'string') await emit(outcome)
        else if (!this.#failures([outcome])) return EXIT.FAILURE
        this.written = this.done - this.failed
        if (this.#interrupted) return EXIT.FAILURE
      }
    } catch (error) {
      this.fatal =
        error instanceof WorkerCrashedError
          ? `a worker crashed on line ${this.done + 1}: ${error.message}`
          : `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`
      return EXIT.FAILURE
    }
    const last = batch.first + batch.lines.length - 1
    this.#charsDone += batch.chars
    this.fatal = `a worker crashed on one of lines ${batch.first}-${last} (${crash.message}); run again line by line they finished and are written; the lines after ${last} were not run`
    return EXIT.FAILURE
  }
}

function describeFailure(failure: LineFailure): string {
  const frames = ownFrames(failure.stack)
  return `line ${failure.line}: ${failure.name}: ${failure.message}${frames ? `\n${frames}` : ''}`
}

/** The frames of the user's code, not those of the machinery that called it. */
function ownFrames(stack: string | undefined): string {
  const all = stack?.split('\n').filter((l) => l.trimStart().startsWith('at ')) ?? []
  const own = all.findIndex((l) => l.includes('runLine') || l.includes('ModuleJob'))
  return (own >= 0 ? all.slice(0, own) : all).slice(0, 6).join('\n')
}

/**
 * One run of `multiproc map`: its counters, its block sizing, its output,
 * its stop conditions.
 *
 *   input ──blocks of lines──▶ Pool.imap(runLineBlock) ──in order──▶ output
 *   (bytes, read on demand)    (bounded window, worker     (bytes, written as they are)
 *                               reads/splits/runs/encodes)
 *
 * The main thread moves bytes, not lines: a regular file is cut by offset
 * and workers read their block themselves; a stream is cut into buffers of
 * whole lines. Workers send back their output as UTF-8 bytes (moved, not
 * copied), which are written in input order. Blocks are sized from measured
 * times so one runs about BLOCK_TARGET_MS in a worker: big for a trivial
 * task (few messages), small for a slow one (the load spread over workers).
 *
 * Lines are numbered as blocks are done, in input order (a block's first
 * line follows the last of the block before it); under --unordered or
 * --chunksize the blocks are counted as they are read instead. When a
 * worker dies inside a block, that block runs again with each line an item
 * of a map chunk (`#pinpoint`), whose per-item progress names the line that
 * ends its worker and delivers the lines before it. Output is whole lines in
 * input order, so it is always a prefix of the full result: on Ctrl-C, on a
 * failing line, on a crash.
 *
 * With `--concurrent-tasks N` a worker runs N lines at once (line_task.ts).
 * Blocks are still sized from their measured (wall) time, but never below
 * the lines it takes the window of blocks to keep every lane busy twice
 * over (2N lines while a file goes one block at a time): a block of slow
 * asynchronous lines runs about as long as one line whatever its size.
 * After a crash every block in flight may have held the culprit: `#pinpoint`
 * runs all of them again, line by line.
 *
 * The nats backend runs only the library tasks it knows (line batches), and
 * a byte range means nothing on another machine: it gets lines in batches
 * (`lineBatches`, `runLineBatch`), as before blocks.
 */
import { once } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import type { Readable, Writable } from 'node:stream'
import { CancelledError, TaskImportError, TaskNotFoundError, WorkerCrashedError } from '../errors.js'
import { EXIT } from './args.js'
import { lineBatches, type LineBatch } from './line_batches.js'
import { fileBlocks, streamBlocks, type LineBlock } from './line_blocks.js'
import { splitLines, type LineBlockJob, type LineBlockResult } from './line_block_task.js'
import { LINE_BLOCK_TASKS } from './map_tasks.js'
import { ParallelGate } from './map_gate.js'
import type { MapWorkers } from './map_workers.js'
import { runLine, runLineBatch, type LineBatchJob, type LineBatchResult, type LineFailure, type LineItem, type LineSpec } from './line_task.js'

/** Target worker time per block (or batch) when sizing them from measurements. */
const BLOCK_TARGET_MS = 10
/**
 * Bytes per block at most. Past about 256 KiB a trivial task gets no faster
 * (a block's strings outlive the young generation and cost more to collect),
 * and with the window of 2 × workers + 2 blocks about 2 MiB are in flight.
 */
const BLOCK_MAX_BYTES = 256 * 1024
/** Target worker time per block while a file runs on one worker: fewer round trips, in which that worker waits. */
const GATED_TARGET_MS = 40
/** Line batches (nats): a batch runs about BATCH_TARGET_MS, holds at most BATCH_MAX_LINES lines and about BATCH_MAX_CHARS. */
const BATCH_TARGET_MS = 4
const BATCH_MAX_LINES = 4096
const BATCH_MAX_CHARS = 64 * 1024
/** Output text (line by line after a crash, line batches) is written when this much is held, or this long after the first line held. */
const OUTPUT_FLUSH_CHARS = 64 * 1024
const OUTPUT_FLUSH_MS = 20

/** Where the lines come from: a stream, or a regular file workers read by offset. */
export type MapInput = { stream: Readable } | { file: string; handle: FileHandle }

export interface MapRunOptions {
  workers: MapWorkers
  spec: { href: string; name: string }
  json: boolean
  onError: 'fail' | 'skip' | 'log'
  /** Lines per block (`--chunksize`), else sized from measured times. */
  fixedChunk: number | undefined
  unordered: boolean
  /** Bytes of input, NaN when unknown (a stream). */
  inputSize: number
  /** Line batches instead of byte blocks (the nats backend). */
  lineBatches: boolean
  /** When blocks go to every worker (map_gate.ts); made, and the first worker started, before this module loads. */
  gate: ParallelGate
}

export class MapRun {
  readonly onError: 'fail' | 'skip' | 'log'
  readonly #options: MapRunOptions
  readonly #abort = new AbortController()
  #interrupted = false
  /** Measured worker time per unit (byte of a block, line of a batch). */
  #perUnitMs = NaN
  /** Bytes and lines of the blocks done (their ratio sizes blocks in lines, under --concurrent-tasks). */
  #doneBytes = 0
  #doneLines = 0
  #blockBytes = 1
  #batchSize: number
  /** Lines handled (written, skipped or failed). */
  done = 0
  /** Lines whose result is in the output. */
  written = 0
  failed = 0
  /** Input consumed, in bytes (blocks) or characters (batches): the progress bar's fraction. */
  #consumed = 0
  /** Why the run stopped early, for stderr. */
  fatal: string | null = null
  readonly #gate: ParallelGate

  constructor(options: MapRunOptions) {
    this.#options = options
    this.onError = options.onError
    this.#batchSize = options.fixedChunk ?? 1
    this.#gate = options.gate
  }

  get interrupted(): boolean {
    return this.#interrupted
  }

  interrupt(): void {
    this.#interrupted = true
    this.#abort.abort()
  }

  progressState() {
    return { items: this.done, failed: this.failed, fraction: this.#consumed / this.#options.inputSize }
  }

  /** Sizes blocks (batches) so that each runs about BLOCK_TARGET_MS (BATCH_TARGET_MS) in a worker; `lines`: of a block. */
  #learn(ms: number, units: number, lines = 0): void {
    if (units === 0) return
    const sample = ms / units
    this.#perUnitMs = Number.isNaN(this.#perUnitMs) ? sample : this.#perUnitMs * 0.5 + sample * 0.5
    if (this.#options.fixedChunk !== undefined) return
    if (this.#options.lineBatches) {
      const ideal = this.#perUnitMs > 0 ? Math.floor(BATCH_TARGET_MS / this.#perUnitMs) : BATCH_MAX_LINES
      this.#batchSize = Math.max(1, Math.min(BATCH_MAX_LINES, ideal))
    } else {
      const target = this.#gate.closed ? GATED_TARGET_MS : BLOCK_TARGET_MS
      const ideal = this.#perUnitMs > 0 ? Math.floor(target / this.#perUnitMs) : BLOCK_MAX_BYTES
      this.#blockBytes = Math.max(1, Math.min(BLOCK_MAX_BYTES, ideal))
      const { workers } = this.#options
      if (workers.concurrency > 1 && lines > 0) {
        // Enough lines per block for the window to fill every worker's lanes twice (see the header);
        // while the gate holds a file to one block at a time, for that block to fill one worker's.
        this.#doneBytes += units
        this.#doneLines += lines
        const lanes = 2 * workers.concurrency
        const least = this.#gate.closed ? lanes : Math.ceil((lanes * workers.count) / blockWindow(workers))
        this.#blockBytes = Math.max(this.#blockBytes, Math.min(BLOCK_MAX_BYTES, Math.ceil((least * this.#doneBytes) / this.#doneLines)))
      }
    }
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

  async execute(input: MapInput, output: Writable): Promise<number> {
    const { workers, spec, json, onError, unordered, fixedChunk } = this.#options
    const stopOnError = onError === 'fail'
    // Blocks (batches) sent and not yet done, by start offset (first line).
    const blocks = new Map<number, LineBlock>()
    const batches = new Map<number, LineBatch>()
    /** In input order: where the next block starts, and its first line. */
    let nextStart = 0
    let nextLine = 1
    let outputError: Error | null = null
    const onOutputError = (error: NodeJS.ErrnoException): void => {
      outputError = error
      this.interrupt()
    }
    output.on('error', onOutputError)
    const interrupted = new Promise<void>((resolve) => this.#abort.signal.addEventListener('abort', () => resolve(), { once: true }))
    // Text (lines after a crash, batches) is gathered into writes of up to OUTPUT_FLUSH_CHARS, at most OUTPUT_FLUSH_MS late; bytes go as they come.
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
    const emit = async (data: string | Uint8Array): Promise<void> => {
      if (data.length === 0) return
      if (typeof data !== 'string') {
        writeOut()
        if (!output.write(data)) await Promise.race([once(output, 'drain'), interrupted])
        return
      }
      pending += data
      if (pending.length >= OUTPUT_FLUSH_CHARS) {
        if (!writeOut()) await Promise.race([once(output, 'drain'), interrupted])
      } else {
        timer ??= setTimeout(writeOut, OUTPUT_FLUSH_MS)
      }
    }

    type Outcome = LineBlockResult | LineBatchResult
    let results: AsyncIterable<Outcome>
    if (this.#options.lineBatches) {
      const stream = 'stream' in input ? input.stream : input.handle.createReadStream({ highWaterMark: 1 << 20 })
      const source = lineBatches(stream, { size: () => this.#batchSize, maxChars: BATCH_MAX_CHARS })
      const jobs = (async function* (): AsyncGenerator<LineBatchJob> {
        for await (const batch of source) {
          batches.set(batch.first, batch)
          yield { module: spec.href, name: spec.name, json, stopOnError, first: batch.first, lines: batch.lines }
        }
      })()
      results = workers.map(runLineBatch, jobs, { chunksize: 1, buffersize: Math.max(16, 4 * workers.count), signal: this.#abort.signal }, !unordered)
    } else {
      const blockOptions = { size: () => this.#blockBytes, linesPerBlock: fixedChunk, countLines: unordered }
      const source =
        'stream' in input
          ? streamBlocks(input.stream, blockOptions)
          : unordered || fixedChunk !== undefined
            ? streamBlocks(input.handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false }), blockOptions)
            : fileBlocks(input.handle, blockOptions)
      const file = 'file' in input ? input.file : undefined
      const gate = this.#gate
      const concurrency = workers.concurrency > 1 ? workers.concurrency : undefined
      const jobs = (async function* (): AsyncGenerator<LineBlockJob> {
        try {
          for (;;) {
            await gate.turn()
            const next = await source.next()
            if (next.done === true) return
            const { start, end, bytes } = next.value
            blocks.set(start, next.value)
            gate.sent(end)
            yield bytes !== undefined ? { module: spec.href, name: spec.name, json, stopOnError, bytes, start, end, concurrency } : { module: spec.href, name: spec.name, json, stopOnError, file, start, end, concurrency }
          }
        } finally {
          await source.return(undefined)
        }
      })()
      results = workers.map(LINE_BLOCK_TASKS.run, jobs, { chunksize: 1, buffersize: blockWindow(workers), signal: this.#abort.signal }, !unordered)
    }

    let code: number = EXIT.OK
    try {
      for await (const result of results) {
        if (this.#interrupted) break
        let failures = result.failures
        if ('output' in result) {
          const block = blocks.get(result.start)!
          blocks.delete(result.start)
          const first = block.first ?? nextLine
          nextStart = block.end // in input order; unordered runs number their blocks as they read them
          nextLine = first + result.lines
          if (failures !== undefined) failures = failures.map((f) => ({ ...f, line: f.line + first - 1 }))
          await emit(result.output)
          this.#consumed += block.end - block.start
          this.#learn(result.ms, block.end - block.start, result.lines)
          this.#gate.done(result.ms, block.end - block.start)
        } else {
          await emit(result.text)
          this.#consumed += batches.get(result.first)?.chars ?? 0
          batches.delete(result.first)
          this.#learn(result.ms, result.count)
        }
        this.done += result.count
        this.written = this.done - this.failed
        if (failures !== undefined && !this.#failures(failures)) {
          code = EXIT.FAILURE
          break
        }
        if (this.#interrupted) break
      }
    } catch (error) {
      if (!(this.#interrupted && error instanceof CancelledError)) {
        code = error instanceof TaskNotFoundError ? EXIT.USAGE : EXIT.FAILURE
        // The block (batch) that was running, in input order: the next one to be written; under
        // --concurrent-tasks any block sent may have been running: all of them, in input order.
        const running =
          unordered || !(error instanceof WorkerCrashedError)
            ? undefined
            : this.#options.lineBatches
              ? batches.get(this.done + 1)
              : workers.concurrency > 1
                ? await this.#blocksLines(blocks, nextStart, nextLine, input)
                : await this.#blockLines(blocks.get(nextStart), nextLine, input)
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
      this.#gate.open()
      // Every finished line before the stop goes out: the output stays a prefix of whole lines.
      writeOut()
      output.off('error', onOutputError)
      if (code !== EXIT.OK || this.#interrupted) await workers.stop()
      else await workers.finish()
      if ('stream' in input) input.stream.destroy()
      else await input.handle.close().catch(() => {})
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

  /** The lines of a block whose worker died, numbered from `first`: its bytes, or read again from the file. */
  async #blockLines(block: LineBlock | undefined, first: number, input: MapInput): Promise<LineBatch | undefined> {
    if (block === undefined) return undefined
    let bytes = block.bytes
    if (bytes === undefined) {
      if (!('handle' in input)) return undefined
      bytes = Buffer.allocUnsafe(block.end - block.start)
      const { bytesRead } = await input.handle.read(bytes, 0, bytes.length, block.start)
      bytes = bytes.subarray(0, bytesRead)
    }
    return { first: block.first ?? first, lines: splitLines(bytes.toString('utf8')), chars: block.end - block.start }
  }

  /** The lines of the blocks sent from `start` on, one after the other in input order, numbered from `first`. */
  async #blocksLines(blocks: Map<number, LineBlock>, start: number, first: number, input: MapInput): Promise<LineBatch | undefined> {
    let all: LineBatch | undefined
    for (let block = blocks.get(start); block !== undefined; block = blocks.get(block.end)) {
      const part = await this.#blockLines(block, all === undefined ? first : all.first + all.lines.length, input)
      if (part === undefined) break
      if (all === undefined) all = part
      else {
        for (const line of part.lines) all.lines.push(line)
        all.chars += part.chars
      }
    }
    return all
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
    const { workers, spec, json } = this.#options
    const lineSpec: LineSpec = { module: spec.href, name: spec.name, json }
    const items = batch.lines.map((text, i): LineItem => [lineSpec, batch.first + i, text])
    try {
      for await (const outcome of workers.map<Awaited<ReturnType<typeof runLine>>>(runLine, items, { chunksize: 'auto', signal: this.#abort.signal }, true)) {
        this.done++
        if (typeof outcome === 'string') await emit(outcome)
        else if (!this.#failures([outcome])) return EXIT.FAILURE
        this.written = this.done - this.failed
        if (this.#interrupted) return EXIT.FAILURE
      }
    } catch (error) {
      const lanes = workers.concurrency
      this.fatal =
        error instanceof WorkerCrashedError
          ? `a worker crashed on line ${this.done + 1}${lanes > 1 ? ` or on a line it ran at the same time (up to ${lanes}, --concurrent-tasks)` : ''}: ${error.message}`
          : `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`
      return EXIT.FAILURE
    }
    const last = batch.first + batch.lines.length - 1
    this.#consumed += batch.chars
    this.fatal = `a worker crashed on one of lines ${batch.first}-${last} (${crash.message}); run again line by line they finished and are written; the lines after ${last} were not run`
    return EXIT.FAILURE
  }
}

/** Blocks sent ahead of the output at most: two per worker, and two more. */
function blockWindow(workers: MapWorkers): number {
  return 2 * workers.count + 2
}

function describeFailure(failure: LineFailure): string {
  const frames = ownFrames(failure.stack)
  return `line ${failure.line}: ${failure.name}: ${failure.message}${frames ? `\n${frames}` : ''}`
}

/** The frames of the user's code, not those of the machinery that called it. */
export function ownFrames(stack: string | undefined): string {
  const all = stack?.split('\n').filter((l) => l.trimStart().startsWith('at ')) ?? []
  const own = all.findIndex((l) => l.includes('runLine') || l.includes('ModuleJob'))
  return (own >= 0 ? all.slice(0, own) : all).slice(0, 6).join('\n')
}

/**
 * The tasks `multiproc map` runs in its workers. `runLineBatch` runs a batch
 * of input lines as one task (the fast path: one message per batch).
 * `runLine` takes one line: after a worker died inside a batch, the CLI runs
 * that batch again with each line an item of a map chunk, so the line that
 * ends its worker is known (the chunk's per-item progress) and the lines
 * before it are delivered. Neither throws for a failing line: it comes back
 * as its failure, so the run can go past it (`--on-error skip|log`).
 * Formatting here keeps the main thread down to writing strings.
 *
 * `--concurrent-tasks N`: the lines of a batch run up to N at once (an
 * asynchronous function awaits beside the others), in lanes shared by every
 * batch of this worker, so a worker never runs more than N lines at once
 * however many batches it holds. Output stays in line order.
 */
import { loadTaskOnce } from '../worker/task_loader.js'
import { Lanes } from '../worker/lanes.js'

/** One batch of input lines, numbered from `first` (1-based). */
export interface LineBatchJob {
  module: string
  name: string
  /** Lines are JSON values (JSON Lines); results are written as JSON. */
  json: boolean
  /** Stop at the first failing line (`--on-error fail`). */
  stopOnError: boolean
  first: number
  lines: string[]
  /** Lines this worker runs at once at most (`--concurrent-tasks`); absent: one at a time. */
  concurrency?: number
}

/** A line whose task threw. */
export interface LineFailure {
  line: number
  name: string
  message: string
  stack: string | undefined
}

export interface LineBatchResult {
  first: number
  /** Lines handled (all of them, or up to the failing one under `stopOnError`). */
  count: number
  /** The output lines, each ending with "\n". */
  text: string
  failures: LineFailure[] | undefined
  ms: number
}

function format(value: unknown, json: boolean): string {
  if (json) return JSON.stringify(value) ?? 'null'
  if (typeof value === 'string') return value
  if (value === undefined || value === null) return ''
  return JSON.stringify(value) ?? String(value)
}

function failure(line: number, error: unknown): LineFailure {
  if (error instanceof Error) return { line, name: error.name, message: error.message, stack: error.stack }
  return { line, name: 'Error', message: `a non-error value was thrown: ${String(error)}`, stack: undefined }
}

/** What `runLine` needs besides the line. One object shared by every item, so it is sent once per chunk. */
export interface LineSpec {
  module: string
  name: string
  /** Lines are JSON values (JSON Lines); results are written as JSON. */
  json: boolean
}

/** One input line: the spec, its 1-based number, its text. */
export type LineItem = [spec: LineSpec, line: number, text: string]

/** The output of a line with its "\n" ('' for a blank JSON line), or its failure. */
export type LineOutcome = string | LineFailure

export async function runLine(item: LineItem): Promise<LineOutcome> {
  const [spec, line, text] = item
  if (spec.json && text.trim() === '') return ''
  // A module that cannot be loaded stops the run (it throws); a failing line does not.
  const fn = await loadTaskOnce(spec.module, spec.name)
  try {
    let value = fn(spec.json ? JSON.parse(text) : text)
    if (value instanceof Promise) value = await value
    return format(value, spec.json) + '\n'
  } catch (error) {
    return failure(line, error)
  }
}

/** This worker's lanes for lines (one set: every batch shares them), made for the first batch that asks. */
let lanes: Lanes | null = null

export async function runLineBatch(job: LineBatchJob): Promise<LineBatchResult> {
  const start = performance.now()
  const fn = await loadTaskOnce(job.module, job.name)
  if ((job.concurrency ?? 1) > 1) {
    if (lanes === null || lanes.size !== job.concurrency) lanes = new Lanes(job.concurrency!)
    return runLinesInLanes(job, fn, lanes, start)
  }
  let text = ''
  let failures: LineFailure[] | undefined
  let count = 0
  for (const line of job.lines) {
    count++
    // JSON Lines allows blank lines between records; they produce no output.
    if (job.json && line.trim() === '') continue
    try {
      let value = fn(job.json ? JSON.parse(line) : line)
      if (value instanceof Promise) value = await value
      text += format(value, job.json) + '\n'
    } catch (error) {
      ;(failures ??= []).push(failure(job.first + count - 1, error))
      if (job.stopOnError) break
    }
  }
  return { first: job.first, count, text, failures, ms: performance.now() - start }
}

/**
 * `runLineBatch` with up to `lanes.size` lines at once, started in order.
 * Under `stopOnError` no line starts after one failed, and the batch ends
 * at the first failing line in input order, as it would one at a time
 * (lines after it that had started are left out, failed or not).
 */
async function runLinesInLanes(job: LineBatchJob, fn: (line: unknown) => unknown, lanes: Lanes, start: number): Promise<LineBatchResult> {
  const lines = job.lines
  const out: (string | LineFailure | undefined)[] = new Array(lines.length)
  const running: Promise<void>[] = []
  let firstFailure = lines.length
  for (let i = 0; i < lines.length && !(job.stopOnError && i > firstFailure); i++) {
    const line = lines[i]!
    if (job.json && line.trim() === '') {
      out[i] = ''
      continue
    }
    if (!lanes.tryTake()) await lanes.take()
    if (job.stopOnError && i > firstFailure) {
      lanes.give()
      break
    }
    const ended = (value: string | LineFailure): void => {
      out[i] = value
      if (typeof value !== 'string' && i < firstFailure) firstFailure = i
      lanes.give()
    }
    try {
      const value = fn(job.json ? JSON.parse(line) : line)
      if (value instanceof Promise) {
        running.push(
          value.then(
            (v) => ended(format(v, job.json) + '\n'),
            (error: unknown) => ended(failure(job.first + i, error)),
          ),
        )
      } else {
        ended(format(value, job.json) + '\n')
      }
    } catch (error) {
      ended(failure(job.first + i, error))
    }
  }
  await Promise.all(running)
  const count = job.stopOnError ? Math.min(lines.length, firstFailure + 1) : lines.length
  let text = ''
  let failures: LineFailure[] | undefined
  for (let i = 0; i < count; i++) {
    const o = out[i]!
    if (typeof o === 'string') text += o
    else (failures ??= []).push(o)
  }
  return { first: job.first, count, text, failures, ms: performance.now() - start }
}

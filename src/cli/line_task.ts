/**
 * The tasks `multiproc map` runs in its workers. `runLineBatch` runs a batch
 * of input lines as one task (the fast path: one message per batch).
 * `runLine` takes one line: after a worker died inside a batch, the CLI runs
 * that batch again with each line an item of a map chunk, so the line that
 * ends its worker is known (the chunk's per-item progress) and the lines
 * before it are delivered. Neither throws for a failing line: it comes back
 * as its failure, so the run can go past it (`--on-error skip|log`).
 * Formatting here keeps the main thread down to writing strings.
 */
import { loadTaskOnce } from '../worker/task_loader.js'

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

export async function runLineBatch(job: LineBatchJob): Promise<LineBatchResult> {
  const start = performance.now()
  const fn = await loadTaskOnce(job.module, job.name)
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

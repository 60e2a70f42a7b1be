/**
 * The task `multiproc map` runs in its workers: a batch of input lines
 * through the user's function. Batching here, rather than in the executor,
 * lets the CLI size batches by bytes, number them by line, and keep going
 * past a failing line (`--on-error skip|log`); formatting here keeps the
 * main thread down to writing strings.
 */
import { TaskNotFoundError } from '../errors.js'

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

type LineFunction = (value: unknown) => unknown

const functions = new Map<string, Promise<LineFunction>>()

function load(module: string, name: string): Promise<LineFunction> {
  const key = `${module}#${name}`
  let fn = functions.get(key)
  if (fn === undefined) {
    fn = import(module).then((ns: Record<string, unknown>) => {
      // A CommonJS module whose exports Node could not list shows them on `default` only.
      const cjs = ns.default !== null && typeof ns.default === 'object' ? (ns.default as Record<string, unknown>) : {}
      const f = ns[name] ?? (Object.hasOwn(cjs, name) ? cjs[name] : undefined)
      if (typeof f !== 'function') {
        const exported = Object.keys(ns).filter((k) => typeof ns[k] === 'function')
        throw new TaskNotFoundError(
          f === undefined
            ? `Module ${module} has no export named \`${name}\` (its exported functions: ${exported.join(', ') || 'none'})`
            : `Export \`${name}\` of module ${module} is not a function but ${typeof f}`,
        )
      }
      return f as LineFunction
    })
    functions.set(key, fn)
  }
  return fn
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

export async function runLineBatch(job: LineBatchJob): Promise<LineBatchResult> {
  const start = performance.now()
  const fn = await load(job.module, job.name)
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

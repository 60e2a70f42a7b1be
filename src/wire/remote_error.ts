/**
 * Errors across the wire, faithfully.
 *
 * A task's error is rebuilt in the caller as its own class: built-ins,
 * AggregateError (with its `errors`), DOMException, every multiproc error,
 * and user classes registered with `registerError`. Message, stack, `cause`
 * chain and own properties (`code`, `errno`, anything the user set) survive.
 * An error whose class is unknown in the caller becomes a `RemoteError`
 * that keeps the original name. Thrown non-errors (`throw 'oops'`) come
 * back as the same value.
 *
 * The rebuilt error's stack is the worker's stack, then one line naming the
 * task and the worker, then the caller's frames when they are known.
 */
import { fileURLToPath } from 'node:url'
import { dirname } from 'node:path'
import * as errors from '../errors.js'
import { RemoteError, invalidArgType, isRemoteError } from '../errors.js'

export interface SerializedError {
  $: 'mp-error'
  /** Constructor name, used to find the class in the caller. */
  cls: string
  name: string
  message: string
  stack: string | undefined
  /** Present when the error had a `cause` (which may itself be undefined). */
  cause?: SerializedValue
  hasCause: boolean
  /** AggregateError's errors. */
  errors?: SerializedValue[]
  /** Own enumerable properties that could be cloned. */
  props: Record<string, unknown>
}

/** A thrown value that is not an Error. */
export interface SerializedThrown {
  $: 'mp-thrown'
  value: unknown
}

export type SerializedValue = SerializedError | SerializedThrown

/** An error class: what `registerError` and `retryOn` take. */
export type ErrorClass = abstract new (...args: any[]) => Error

const registry = new Map<string, ErrorClass>()

for (const cls of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]) {
  registry.set(cls.name, cls)
}
// Every error class of the library is known by name, so it is rebuilt as itself.
for (const value of Object.values(errors)) {
  if (typeof value === 'function' && value.prototype instanceof Error) registry.set(value.prototype.name, value as ErrorClass)
}

/**
 * Registers an error class so that errors of this class thrown in a worker
 * are rebuilt as the same class in the caller (`instanceof` works). Register
 * it in the caller; the worker needs nothing. The constructor is not called:
 * the error is rebuilt from its prototype and properties.
 *
 * @param cls the class
 * @param name the name to match, default `cls.name` (the worker sends its constructor's name)
 * @throws TypeError when `cls` is not an Error class
 * @example
 * export class QuotaError extends Error { constructor(public limit: number) { super(`over ${limit}`) } }
 * registerError(QuotaError)
 */
export function registerError(cls: ErrorClass, name?: string): void {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Error || cls === Error)) {
    throw invalidArgType(`Expected \`cls\` to be an Error class, got ${typeof cls === 'function' ? `function ${cls.name}` : String(cls)}`)
  }
  name ??= cls.name
  if (typeof name !== 'string' || name === '') throw invalidArgType(`Expected \`name\` to be a non-empty string, got ${String(name)}`)
  registry.set(name, cls)
}

const MAX_DEPTH = 16

function cloneable(value: unknown): boolean {
  const type = typeof value
  if (value === null || (type !== 'object' && type !== 'function' && type !== 'symbol')) return true
  if (type === 'function' || type === 'symbol') return false
  try {
    structuredClone(value)
    return true
  } catch {
    return false
  }
}

// Frames of the worker runtime itself say nothing to the user; drop them.
const workerDir = dirname(dirname(fileURLToPath(import.meta.url)))
function trimInternalFrames(stack: string | undefined): string | undefined {
  if (stack === undefined) return undefined
  return stack
    .split('\n')
    .filter((line) => !(line.trimStart().startsWith('at ') && line.includes(`${workerDir}/worker/`)))
    .join('\n')
}

/** Turns anything thrown into a cloneable description of it. */
export function serializeError(error: unknown, depth = 0): SerializedValue {
  if (!(error instanceof Error) && !isErrorLike(error)) {
    return { $: 'mp-thrown', value: cloneable(error) ? error : String(error) }
  }
  const err = error as Error & { errors?: unknown[] }
  const props: Record<string, unknown> = {}
  for (const key of Object.keys(err)) {
    // `errors` travels on its own when it is AggregateError's list; otherwise it is an ordinary property.
    if (key === 'stack' || key === 'message' || key === 'cause' || (key === 'errors' && Array.isArray(err.errors))) continue
    let value: unknown
    try {
      value = (err as unknown as Record<string, unknown>)[key]
    } catch {
      continue
    }
    if (cloneable(value)) props[key] = value
    else if (value instanceof Error && depth < MAX_DEPTH) props[key] = serializeError(value, depth + 1)
    else props[key] = `[not cloneable: ${typeof value === 'function' ? 'function' : Object.prototype.toString.call(value)}]`
  }
  let cls = 'Error'
  try {
    cls = err.constructor?.name || 'Error'
  } catch {
    // a hostile constructor getter
  }
  // A RemoteError relayed through another hop (a cluster worker, a nested
  // pool) stands for the original class: send that name, not 'RemoteError'.
  // A brand, not instanceof: the task's RemoteError may come from another copy of multiproc.
  const remote = isRemoteError(error) ? error : null
  if (remote !== null && typeof remote.remoteName === 'string' && remote.remoteName !== '') {
    cls = remote.remoteName
    delete props.remoteName
    if (props.code === 'ERR_MP_REMOTE') delete props.code
  }
  const out: SerializedError = {
    $: 'mp-error',
    cls,
    name: safeString(() => err.name, 'Error'),
    message: safeString(() => err.message, ''),
    stack: trimInternalFrames(safeString(() => err.stack, undefined)),
    hasCause: 'cause' in err,
    props,
  }
  if (out.hasCause && depth < MAX_DEPTH) out.cause = serializeError(err.cause, depth + 1)
  if (Array.isArray(err.errors) && depth < MAX_DEPTH) out.errors = err.errors.map((e) => serializeError(e, depth + 1))
  return out
}

function isErrorLike(value: unknown): boolean {
  // Errors from another realm (vm contexts) fail instanceof but are still errors.
  return Object.prototype.toString.call(value) === '[object Error]'
}

function safeString<D>(read: () => unknown, fallback: D): string | D {
  try {
    const value = read()
    return typeof value === 'string' ? value : value === undefined ? fallback : String(value)
  } catch {
    return fallback
  }
}

export function isSerializedError(value: unknown): value is SerializedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as SerializedValue).$ === 'mp-error' || (value as SerializedValue).$ === 'mp-thrown')
  )
}

/** Where an error came from, for the line added to its stack. */
export interface ErrorOrigin {
  /** e.g. `square (tasks.ts)` */
  task?: string
  /** e.g. `thread worker 2` */
  worker?: string
  /** A stack captured in the caller; its frames are appended. */
  callerStack?: string
}

function callerFrames(stack: string | undefined): string {
  if (stack === undefined) return ''
  const lines = stack.split('\n').filter((line) => line.trimStart().startsWith('at '))
  return lines.length > 0 ? `\n${lines.join('\n')}` : ''
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false })
}

/** Rebuilds a thrown value in the caller. */
export function deserializeError(value: SerializedValue, origin: ErrorOrigin = {}, depth = 0): unknown {
  if (value.$ === 'mp-thrown') return value.value
  let error: Error
  if (value.cls === 'DOMException' && typeof DOMException === 'function') {
    error = new DOMException(value.message, value.name)
  } else {
    // By constructor name; by `name` only when that is specific (a minifier may have renamed the class).
    const cls = registry.get(value.cls) ?? (value.name !== value.cls && value.name !== 'Error' ? registry.get(value.name) : undefined)
    if (cls !== undefined) {
      error = Object.create(cls.prototype) as Error
      define(error, 'message', value.message)
      if (error.name !== value.name) define(error, 'name', value.name)
    } else {
      error = Object.create(RemoteError.prototype) as Error
      define(error, 'message', value.message)
      define(error, 'name', value.cls !== 'Error' && value.name === 'Error' ? value.cls : value.name)
      define(error, 'remoteName', value.cls)
      define(error, 'code', 'ERR_MP_REMOTE')
    }
  }
  for (const [key, prop] of Object.entries(value.props)) {
    const rebuilt = isSerializedError(prop) && depth < MAX_DEPTH ? deserializeError(prop, {}, depth + 1) : prop
    try {
      ;(error as unknown as Record<string, unknown>)[key] = rebuilt
    } catch {
      define(error, key, rebuilt)
    }
  }
  if (value.hasCause && value.cause !== undefined && depth < MAX_DEPTH) define(error, 'cause', deserializeError(value.cause, {}, depth + 1))
  else if (value.hasCause) define(error, 'cause', undefined)
  if (value.errors !== undefined && depth < MAX_DEPTH) define(error, 'errors', value.errors.map((e) => deserializeError(e, {}, depth + 1)))
  let stack = value.stack ?? `${value.name}: ${value.message}`
  if (depth === 0 && (origin.task !== undefined || origin.worker !== undefined)) {
    const where = [origin.task !== undefined ? `task ${origin.task}` : '', origin.worker !== undefined ? `in ${origin.worker}` : '']
      .filter(Boolean)
      .join(' ')
    stack += `\n    at <multiproc> ${where}${callerFrames(origin.callerStack)}`
  }
  define(error, 'stack', stack)
  return error
}

/**
 * Options of every blocking operation (Python's `block` / `timeout`), and the
 * disposable a `hold()` gives for `await using` (Python's `with lock:`).
 */
import { TimeoutError } from '../errors.js'
import { boolean, knownKeys, optionalTimeout, plainObject, timeoutOption } from '../internal/validate.js'

/** Options of `acquire`, `hold`, `put` and `get`: Python's `block` and `timeout` (in ms). */
export interface AcquireOptions {
  /** Wait for the primitive (default true); false: take it only if it is free now. */
  blocking?: boolean
  /** Give up after this many milliseconds (default: wait for ever). */
  timeout?: number
}

/** Options of the calls that only wait (`wait`, `join`): `timeout` in ms. */
export interface TimeoutOptions {
  /** Give up after this many milliseconds (default: wait for ever). */
  timeout?: number
}

const ACQUIRE_KEYS = ['blocking', 'timeout']

/** Reads `{ blocking, timeout }`, refusing any other key; `what` names the call in the error. */
export function parseAcquire(options: unknown, what = 'acquire()'): { blocking: boolean; timeout: number | undefined } {
  const o = plainObject('options', options)
  knownKeys(what, o, ACQUIRE_KEYS)
  const blocking = o.blocking === undefined ? true : boolean('options.blocking', o.blocking)
  return { blocking, timeout: optionalTimeout('options.timeout', o.timeout) }
}

/** Reads `{ timeout }`, refusing any other key; `what` names the call in the error. */
export function parseTimeout(options: unknown, what = 'wait()'): number | undefined {
  return timeoutOption(what, options)
}

/** A held lock or semaphore; disposing releases it. */
export interface Held extends Disposable, AsyncDisposable {
  /** Releases now (disposing later does nothing). */
  release(): void
}

export function held(release: () => void): Held {
  let done = false
  const once = (): void => {
    if (done) return
    done = true
    release()
  }
  return { release: once, [Symbol.dispose]: once, [Symbol.asyncDispose]: async () => once() }
}

export function notAcquired(what: string, timeout: number | undefined): TimeoutError {
  return new TimeoutError(timeout === undefined ? `${what} is not free` : `${what} was not acquired within ${timeout} ms`)
}

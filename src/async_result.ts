/**
 * AsyncResult: what `Pool.applyAsync`, `mapAsync` and `starmapAsync` return,
 * as Python's `multiprocessing.pool.AsyncResult`.
 *
 *   PENDING ──settle(ok)──▶ READY (successful)
 *      └─────settle(error)─▶ READY (failed)
 *
 * Python blocks in `get()` and `wait()`; here they return promises, and the
 * AsyncResult itself is awaitable (`await result` is `await result.get()`).
 * Like a Future it creates its promise only when someone awaits it, so a
 * failed result nobody looks at makes no unhandled-rejection noise.
 */
import { InvalidStateError, TimeoutError } from './errors.js'
import { optionalTimeout, plainObject, knownKeys } from './internal/validate.js'

/** Options of `get()` and `wait()`. */
export interface AsyncResultWaitOptions {
  /** Milliseconds to wait at most. Default: no limit. */
  timeout?: number
}

/** Internal: settles an AsyncResult (only the Pool does). */
export const kSettle = Symbol('multiproc.AsyncResult.settle')

type Callback = (value: any) => void

function reportCallbackError(what: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error)
  process.emitWarning(`An AsyncResult ${what} threw: ${detail}`, { type: 'MultiprocWarning', code: 'MP_RESULT_CALLBACK' })
}

/**
 * The result of `Pool.applyAsync`, `mapAsync` and `starmapAsync` (Python's
 * `multiprocessing.pool.AsyncResult`). Awaitable; `get({ timeout })` rejects
 * with the work's error or `TimeoutError` (the work goes on), `wait()` never
 * rejects, `ready()` and `successful()` look without waiting.
 *
 * @typeParam T - the value `get()` resolves to
 * @example
 * const r = pool.mapAsync(square, [1, 2, 3])
 * console.log(r.ready())                    // false
 * console.log(await r.get({ timeout: 5000 })) // [1, 4, 9]
 * console.log(r.successful())               // true
 */
export class AsyncResult<T = unknown> implements PromiseLike<T> {
  #ready = false
  #ok = false
  #value: T | undefined = undefined
  #error: unknown = undefined
  #waiters: (() => void)[] = []
  #promise: Promise<T> | null = null
  readonly #callback: Callback | undefined
  readonly #errorCallback: Callback | undefined

  /** @internal Created by Pool. */
  constructor(callback?: (value: T) => void, errorCallback?: (error: unknown) => void) {
    this.#callback = callback
    this.#errorCallback = errorCallback
  }

  /** True once the call has completed (successfully or not). */
  ready(): boolean {
    return this.#ready
  }

  /**
   * True if the call completed without an error.
   *
   * @throws InvalidStateError if the result is not ready yet (Python raises ValueError)
   */
  successful(): boolean {
    if (!this.#ready) throw new InvalidStateError('The result is not ready yet: successful() may only be called once ready() is true')
    return this.#ok
  }

  /**
   * Waits until the result is ready, or until `timeout` milliseconds passed.
   * Never rejects (as Python's `wait()`, which returns either way): check
   * `ready()` afterwards.
   *
   * @example
   * await result.wait({ timeout: 1000 })
   * if (!result.ready()) console.log('still running')
   */
  wait(options: AsyncResultWaitOptions = {}): Promise<void> {
    const timeout = readTimeout('wait()', options)
    if (this.#ready) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer)
        resolve()
      }
      this.#waiters.push(done)
      if (timeout !== undefined && Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          const index = this.#waiters.indexOf(done)
          if (index >= 0) this.#waiters.splice(index, 1)
          resolve()
        }, timeout)
      }
    })
  }

  /**
   * The result. Rejects with the task's error, or with TimeoutError when
   * `timeout` milliseconds pass first (the work goes on).
   *
   * @example
   * const squares = await pool.mapAsync(square, [1, 2, 3]).get({ timeout: 5000 })
   */
  async get(options: AsyncResultWaitOptions = {}): Promise<T> {
    const timeout = readTimeout('get()', options)
    if (!this.#ready) {
      await this.wait({ timeout })
      if (!this.#ready) throw new TimeoutError(`AsyncResult.get() timed out after ${timeout} ms (the work goes on)`)
    }
    if (!this.#ok) throw this.#error
    return this.#value as T
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#promise ??= this.get()
    return this.#promise.then(onFulfilled, onRejected)
  }

  /** `'AsyncResult'`, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return 'AsyncResult'
  }

  /** @internal Completes the result; calls the callback, then wakes the waiters. */
  [kSettle](ok: boolean, valueOrError: unknown): void {
    if (this.#ready) return
    this.#ready = true
    this.#ok = ok
    if (ok) this.#value = valueOrError as T
    else this.#error = valueOrError
    const callback = ok ? this.#callback : this.#errorCallback
    if (callback !== undefined) {
      try {
        callback(valueOrError)
      } catch (error) {
        reportCallbackError(ok ? 'callback' : 'errorCallback', error)
      }
    }
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}

function readTimeout(what: string, options: AsyncResultWaitOptions): number | undefined {
  const opts = plainObject('options', options)
  knownKeys(what, opts, ['timeout'])
  return optionalTimeout('timeout', opts.timeout)
}

/**
 * Future: the eventual result of a task, as in Python's concurrent.futures.
 *
 * State machine (anything else throws InvalidStateError):
 *
 *   PENDING ──setRunningOrNotifyCancel()──▶ RUNNING ──setResult/setException──▶ FINISHED
 *      │  └───────────────setResult/setException──────────────────────────────▶ FINISHED
 *      └──cancel()──▶ CANCELLED
 *
 * A Future is a Promise of the task's value (`await future` is `await
 * future.result()`): a burst of 100k tasks awaited with Promise.all makes one
 * promise per task, not three (a thenable makes the await machinery create a
 * promise and call its `then`, which had to create one more). Its
 * prototype's `constructor` is Promise, so `await` and `Promise.all` take it
 * as it is, as they take a plain promise, and `then` returns plain promises.
 * A Future that fails is marked handled before it rejects, so one that
 * nobody awaits causes no unhandled-rejection warning. Done callbacks run
 * synchronously when the Future settles, in the order they were added, like
 * Python's.
 */
import { CancelledError, InvalidStateError, TimeoutError } from '../errors.js'
import { inspect, type InspectOptions } from 'node:util'
import { func, knownKeys, optionalTimeout, plainObject } from '../internal/validate.js'

/** The four states of a Future, named as in Python. */
export type FutureState = 'PENDING' | 'RUNNING' | 'CANCELLED' | 'FINISHED'

/** Options of `result()` and `exception()`. */
export interface WaitOptions {
  /** Give up after this many milliseconds with a TimeoutError (the Future itself goes on). Default: wait forever. */
  timeout?: number
}

/** A callback registered with `addDoneCallback`. */
export type DoneCallback<T> = (future: Future<T>) => void

/** Internal: remove a done callback (used by `wait` and `asCompleted` when they give up). */
export const kRemoveDoneCallback = Symbol('multiproc.removeDoneCallback')
/** Internal: read the outcome synchronously (Python's `f._exception`). */
export const kOutcome = Symbol('multiproc.outcome')

/** Internal: RUNNING → PENDING, when a task goes back to the queue after its worker was lost before running it. */
export const kRequeue = Symbol('multiproc.requeue')
/** Internal: RUNNING → CANCELLED, when a running task is stopped for real (its `signal` aborted). */
export const kForceCancel = Symbol('multiproc.forceCancel')
/** Internal: cancel a RUNNING Future whose executor can stop it without hurting other tasks (the cluster); false: it cannot be. */
export const kCancelRunning = Symbol('multiproc.cancelRunning')
/** Internal: whether a done Future failed (no allocation, for per-task counting). */
export const kFailed = Symbol('multiproc.failed')

/** Internal: the synchronous outcome of a done Future. */
export interface Outcome<T> {
  failed: boolean
  value: T | undefined
  error: unknown
}

const SHORT: InspectOptions = { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 }

/** The `timeout` of `result()` / `exception()`, refusing any other key. */
function waitTimeout(what: string, options: unknown): number | undefined {
  const o = plainObject('options', options)
  knownKeys(what, o, WAIT_KEYS)
  return optionalTimeout('timeout', o.timeout)
}
const WAIT_KEYS = ['timeout']

/** Keeps a description to one short line. */
function shorten(text: string, max = 80): string {
  const line = text.replace(/\s*\n\s*/g, ' ')
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

// The resolving functions of the Future being constructed: one shared executor, no closure per Future.
let capturedResolve: (value: any) => void = () => {}
let capturedReject: (reason: unknown) => void = () => {}
function capture(resolve: (value: any) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve
  capturedReject = reject
}
const promiseThen = Promise.prototype.then
function ignore(): void {}

function reportCallbackError(error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error)
  process.emitWarning(`A Future done callback threw: ${detail}`, { type: 'MultiprocWarning', code: 'MP_DONE_CALLBACK' })
}

/**
 * The eventual result of a task (Python's `concurrent.futures.Future`), as
 * `submit()` returns it. It is awaitable: `await future` resolves to the
 * task's value or rejects with its error, `CancelledError` or `TimeoutError`.
 * A Future that fails and is never awaited makes no unhandled-rejection noise.
 *
 * @typeParam T - the task's result
 * @example
 * const future = executor.submit(square, 7)
 * console.log(future)                       // Future<pending>
 * console.log(await future)                 // 49
 * console.log(future.done(), future.state)  // true FINISHED
 * console.log(future)                       // Future<finished: 49>
 */
export class Future<T = unknown> extends Promise<T> {
  /** Promise: what `then` builds is a plain promise, whatever the subclass. */
  static override get [Symbol.species](): PromiseConstructor {
    return Promise
  }

  #state: FutureState = 'PENDING'
  #value: T | undefined = undefined
  #error: unknown = undefined
  #failed = false
  // One callback is by far the most common case; avoid the array until a second arrives.
  // Typed loosely on purpose: a private field typed with T in a parameter
  // position would make Future<never> unassignable to Future<any>.
  #callbacks: DoneCallback<any> | DoneCallback<any>[] | null = null
  /** Why it was cancelled (kForceCancel); once CANCELLED, the CancelledError it rejects with. */
  #cancelReason: unknown = undefined
  readonly #resolve: (value: any) => void
  readonly #reject: (reason: unknown) => void

  /**
   * A PENDING Future, for executor implementations and tests. It takes no
   * executor function: it settles through `setResult`, `setException` and
   * `cancel` (so `Future.resolve()` and the like throw; use Promise's).
   */
  constructor() {
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length > 0) throw new TypeError('new Future() takes no arguments: a Future settles through setResult(), setException() or cancel()')
    super(capture)
    this.#resolve = capturedResolve
    this.#reject = capturedReject
  }

  /** The current state: 'PENDING', 'RUNNING', 'CANCELLED' or 'FINISHED'. */
  get state(): FutureState {
    return this.#state
  }

  /**
   * Attempts to cancel. A Future that is still PENDING (queued, not yet handed
   * to a worker) is cancelled and `true` is returned; a RUNNING or FINISHED
   * one cannot be and `false` is returned (as in Python). To stop a running
   * task for real, submit it with a `signal` or a `timeout`. On the cluster
   * (NatsExecutor) a RUNNING task is cancelled too: it is dropped from the
   * stream or stopped where it runs, and `true` is returned.
   *
   * @returns whether the Future is now cancelled
   * @example
   * if (future.cancel()) console.log(future) // Future<cancelled>
   */
  cancel(): boolean {
    if (this.#state === 'RUNNING') return this[kCancelRunning]()
    if (this.#state === 'FINISHED') return false
    if (this.#state === 'CANCELLED') return true
    this.#state = 'CANCELLED'
    this.#settle()
    return true
  }

  /** @internal overridden where a running task can be stopped alone (see kCancelRunning) */
  [kCancelRunning](): boolean {
    return false
  }

  /** True if the Future was cancelled. */
  cancelled(): boolean {
    return this.#state === 'CANCELLED'
  }

  /** True while a worker runs the task. */
  running(): boolean {
    return this.#state === 'RUNNING'
  }

  /** True once the Future has a result, an exception, or was cancelled. */
  done(): boolean {
    return this.#state === 'CANCELLED' || this.#state === 'FINISHED'
  }

  /**
   * The task's result. Rejects with the task's error, with `CancelledError`
   * if the Future was cancelled, or with `TimeoutError` if `timeout`
   * milliseconds pass first (the task itself goes on).
   *
   * @throws RangeError synchronously for a bad or unknown option
   * @example
   * const value = await future.result({ timeout: 5_000 })
   */
  result(options: WaitOptions = {}): Promise<T> {
    const timeout = waitTimeout('Future.result()', options)
    if (this.done()) return this.#settledPromise()
    return this.#waitDone(timeout, 'result').then(() => this.#settledPromise())
  }

  /**
   * The task's error, or `undefined` if it succeeded. Rejects with
   * `CancelledError` if cancelled, `TimeoutError` if `timeout` passes first.
   *
   * @throws RangeError synchronously for a bad or unknown option
   * @example
   * const error = await future.exception()
   * if (error !== undefined) console.error('the task failed:', error)
   */
  exception(options: WaitOptions = {}): Promise<unknown> {
    const timeout = waitTimeout('Future.exception()', options)
    const read = (): Promise<unknown> => {
      if (this.#state === 'CANCELLED') return Promise.reject(this.#cancelledError())
      return Promise.resolve(this.#failed ? this.#error : undefined)
    }
    if (this.done()) return read()
    return this.#waitDone(timeout, 'exception').then(read)
  }

  /**
   * Calls `fn(future)` when the Future is done (finished or cancelled), or
   * at once if it already is. Callbacks run in the order they were added; an
   * exception in one is reported as a process warning and does not stop the others.
   *
   * @throws TypeError when `fn` is not a function
   * @example
   * future.addDoneCallback((f) => console.log('done:', f))
   */
  addDoneCallback(fn: DoneCallback<T>): void {
    func('fn', fn)
    if (this.done()) {
      try {
        fn(this)
      } catch (error) {
        reportCallbackError(error)
      }
      return
    }
    if (this.#callbacks === null) this.#callbacks = fn
    else if (typeof this.#callbacks === 'function') this.#callbacks = [this.#callbacks, fn]
    else this.#callbacks.push(fn)
  }

  /** @internal */
  [kRemoveDoneCallback](fn: DoneCallback<T>): void {
    if (this.#callbacks === fn) this.#callbacks = null
    else if (Array.isArray(this.#callbacks)) {
      const index = this.#callbacks.indexOf(fn)
      if (index >= 0) this.#callbacks.splice(index, 1)
    }
  }

  /** @internal */
  [kOutcome](): Outcome<T> {
    return { failed: this.#failed, value: this.#value, error: this.#error }
  }

  /** @internal */
  [kFailed](): boolean {
    return this.#failed
  }

  /** @internal */
  [kRequeue](): void {
    if (this.#state !== 'RUNNING') throw new InvalidStateError(`Future in state ${this.#state} cannot go back to PENDING`)
    this.#state = 'PENDING'
  }

  /** @internal */
  [kForceCancel](reason: unknown): boolean {
    if (this.done()) return false
    this.#state = 'CANCELLED'
    this.#cancelReason = reason
    this.#settle()
    return true
  }

  // ── For executor implementations and tests (Python's set_* methods) ──

  /**
   * Marks the Future RUNNING and returns true, or returns false if it was
   * cancelled meanwhile (the executor must then drop the task).
   * Throws InvalidStateError in any other state.
   */
  setRunningOrNotifyCancel(): boolean {
    if (this.#state === 'CANCELLED') return false
    if (this.#state !== 'PENDING') throw new InvalidStateError(`Future in state ${this.#state} cannot start running`)
    this.#state = 'RUNNING'
    return true
  }

  /** Finishes the Future with a value. Throws InvalidStateError if it is already done. */
  setResult(value: T): void {
    if (this.done()) throw new InvalidStateError(`Cannot set the result of a Future in state ${this.#state}`)
    this.#value = value
    this.#state = 'FINISHED'
    this.#settle()
  }

  /** Finishes the Future with an error. Throws InvalidStateError if it is already done. */
  setException(error: unknown): void {
    if (this.done()) throw new InvalidStateError(`Cannot set the exception of a Future in state ${this.#state}`)
    this.#error = error
    this.#failed = true
    this.#state = 'FINISHED'
    this.#settle()
  }

  // `then`, `catch` and `finally` are Promise's: `await future` is `await future.result()`.

  /** `'Future'`, for `Object.prototype.toString`. */
  override get [Symbol.toStringTag](): string {
    return 'Future'
  }

  /**
   * A short description of the state: `Future<pending>`, `Future<running>`,
   * `Future<finished: 49>`, `Future<failed: TypeError: bad input>` or
   * `Future<cancelled>`. `console.log(future)` prints the same.
   *
   * @example
   * console.log(String(executor.submit(square, 7))) // Future<pending>
   */
  override toString(): string {
    return this.#describe()
  }

  /** What `console.log(future)` and `util.inspect(future)` print: the same as `toString()`. */
  [inspect.custom](): string {
    return this.#describe()
  }

  // ── internals ──

  #describe(): string {
    switch (this.#state) {
      case 'PENDING':
        return 'Future<pending>'
      case 'RUNNING':
        return 'Future<running>'
      case 'CANCELLED':
        return 'Future<cancelled>'
    }
    if (!this.#failed) {
      const value = inspect(this.#value, SHORT)
      return `Future<finished: ${shorten(value)}>`
    }
    const error = this.#error
    const text =
      error instanceof Error
        ? `${error.name}: ${error.message.split('\n', 1)[0]}`
        : inspect(error, SHORT)
    return `Future<failed: ${shorten(text)}>`
  }

  /** The CancelledError of a CANCELLED Future (made by #settle). */
  #cancelledError(): CancelledError {
    return this.#cancelReason as CancelledError
  }

  /** Turns #cancelReason into the CancelledError the Future rejects with. */
  #makeCancelledError(): CancelledError {
    const reason = this.#cancelReason
    if (reason instanceof CancelledError) return reason
    if (reason !== undefined) return new CancelledError('The task was cancelled while running: its signal was aborted', { cause: reason })
    // Made at cancel(), where no stack says anything the message does not, and
    // a stack trace would cost several times the rest of a cancel (shutdown({ cancelFutures }) of a long queue).
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      return new CancelledError('The Future was cancelled')
    } finally {
      Error.stackTraceLimit = limit
    }
  }

  #settledPromise(): Promise<T> {
    if (this.#state === 'CANCELLED') return Promise.reject(this.#cancelledError())
    return this.#failed ? Promise.reject(this.#error) : Promise.resolve(this.#value as T)
  }

  #waitDone(timeout: number | undefined, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onDone = (): void => {
        if (timer !== undefined) clearTimeout(timer)
        resolve()
      }
      if (timeout !== undefined && Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          this[kRemoveDoneCallback](onDone)
          reject(new TimeoutError(`Future.${what}() timed out after ${timeout} ms (the task goes on)`))
        }, timeout)
      }
      this.addDoneCallback(onDone)
    })
  }

  #settle(): void {
    if (this.#state === 'FINISHED' && !this.#failed) this.#resolve(this.#value as T)
    else {
      // Handled before it rejects: a Future nobody awaits makes no unhandled-rejection noise.
      promiseThen.call(this, undefined, ignore)
      if (this.#state === 'CANCELLED') this.#reject((this.#cancelReason = this.#makeCancelledError()))
      else this.#reject(this.#error)
    }
    const callbacks = this.#callbacks
    if (callbacks === null) return
    this.#callbacks = null
    if (typeof callbacks === 'function') {
      try {
        callbacks(this)
      } catch (error) {
        reportCallbackError(error)
      }
      return
    }
    for (const fn of callbacks) {
      try {
        fn(this)
      } catch (error) {
        reportCallbackError(error)
      }
    }
  }
}

// `await`, `Promise.resolve` and `Promise.all` take a promise whose `constructor` is
// Promise as it is; any other they wrap in a new promise and subscribe through a
// microtask. `then` makes plain promises too (Symbol.species is Promise's).
// A subclass's prototype gets a `constructor` of its own: it says the same with
// `promiseConstructor(Sub)` (TaskFuture does), and without it still chains plain promises.
export function promiseConstructor(cls: abstract new (...args: never[]) => Future<any>): void {
  Object.defineProperty(cls.prototype, 'constructor', { value: Promise, writable: true, configurable: true, enumerable: false })
}
promiseConstructor(Future)

/**
 * wait() and asCompleted(): waiting on many Futures at once, as in Python.
 */
import { TimeoutError, invalidArgType } from '../errors.js'
import { deadlineOf, remaining, until, type Listen } from '../internal/deadline.js'
import { Deque } from '../internal/deque.js'
import { oneOf, optionalTimeout, plainObject, knownKeys } from '../internal/validate.js'
import { Future, kOutcome, kRemoveDoneCallback } from './future.js'

/** Return when any Future finishes or is cancelled. */
export const FIRST_COMPLETED = 'FIRST_COMPLETED'
/** Return when any Future finishes by raising an exception, or when all are done. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION'
/** Return when all Futures are done. */
export const ALL_COMPLETED = 'ALL_COMPLETED'

/** When `wait()` returns: `FIRST_COMPLETED`, `FIRST_EXCEPTION` or `ALL_COMPLETED`. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED

/** Options of `wait()`. */
export interface WaitForOptions {
  /** Milliseconds to wait at most. Unlike `result()`, running out is not an error: the result says what is done. Default: no limit. */
  timeout?: number
  /** When to return. Default `ALL_COMPLETED`. */
  returnWhen?: ReturnWhen
}

/** The two sets `wait` returns, as Python's `DoneAndNotDoneFutures`. */
export interface DoneAndNotDone<F extends Future<any>> {
  /** The Futures that finished or were cancelled. */
  done: Set<F>
  /** The others (pending or running), when `returnWhen` or the timeout let `wait()` return early. */
  notDone: Set<F>
}

/**
 * A Future as `asCompleted` yields it: everything but `then`/`catch`/`finally`.
 * TypeScript types a `for await` variable as the awaited value of what is
 * yielded, and a Future is awaitable, so yielding `Future<T>` would type the
 * loop variable as `T` although it is the Future. Read it with
 * `f.result()`, as in Python's `for f in as_completed(fs): f.result()`.
 */
export type Completed<F extends Future<any>> = Omit<F, 'then' | 'catch' | 'finally'>

/** Options of `asCompleted()`. */
export interface AsCompletedOptions {
  /** Milliseconds from the call after which the iterator throws TimeoutError. Default: no limit. */
  timeout?: number
}

function toFutureSet<F extends Future<any>>(futures: Iterable<F>, what: string): Set<F> {
  if (futures === null || typeof futures !== 'object' || typeof (futures as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidArgType(`Expected \`futures\` to be an iterable of Futures, got ${String(futures)}`)
  }
  const set = new Set<F>()
  let i = 0
  for (const f of futures) {
    if (!(f instanceof Future)) {
      throw invalidArgType(`Expected \`futures[${i}]\` passed to ${what} to be a Future, got ${typeof f === 'object' ? Object.prototype.toString.call(f) : String(f)}`)
    }
    set.add(f)
    i++
  }
  return set
}

function failed(f: Future<unknown>): boolean {
  return f.state === 'FINISHED' && f[kOutcome]().failed
}

/**
 * Waits for the Futures to complete, as Python's `concurrent.futures.wait`.
 * Resolves to `{ done, notDone }`; it never rejects because of a task's error
 * or because the timeout ran out.
 *
 * @returns `{ done, notDone }`: two Sets of the given Futures
 * @throws TypeError for something that is not a Future; RangeError for a bad or unknown option
 * @example
 * const { done, notDone } = await wait(futures, { returnWhen: FIRST_COMPLETED, timeout: 1000 })
 */
export async function wait<F extends Future<any>>(futures: Iterable<F>, options: WaitForOptions = {}): Promise<DoneAndNotDone<F>> {
  const opts = plainObject('options', options)
  knownKeys('wait()', opts, ['timeout', 'returnWhen'])
  const timeout = optionalTimeout('timeout', opts.timeout)
  const returnWhen = oneOf('returnWhen', opts.returnWhen ?? ALL_COMPLETED, [FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED] as const)
  const all = toFutureSet(futures, 'wait()')

  const split = (): DoneAndNotDone<F> => {
    const done = new Set<F>()
    const notDone = new Set<F>()
    for (const f of all) (f.done() ? done : notDone).add(f)
    return { done, notDone }
  }
  // One pass now, then O(1) per completion: a count of what is left, never a rescan.
  const pending: F[] = []
  let anyDone = false
  for (const f of all) {
    if (!f.done()) pending.push(f)
    else {
      anyDone = true
      if (returnWhen === FIRST_EXCEPTION && failed(f)) return split()
    }
  }
  if (pending.length === 0 || (returnWhen === FIRST_COMPLETED && anyDone) || timeout === 0) return split()

  await until((wake) => {
    let left = pending.length
    const onDone = (f: Future<unknown>): void => {
      left--
      if (left === 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failed(f))) wake()
    }
    for (const f of pending) f.addDoneCallback(onDone)
    return () => {
      for (const f of pending) f[kRemoveDoneCallback](onDone)
    }
  }, deadlineOf(timeout))
  return split()
}

/**
 * Yields the Futures as they complete (finished or cancelled), first done
 * first; Futures already done are yielded first. Duplicates are yielded once.
 * Throws TimeoutError if `timeout` milliseconds pass (counted from the call)
 * before all are done. Breaking out of the loop is safe.
 *
 * Each item is the Future itself (typed `Completed<F>`): read it with `f.result()`.
 *
 * @returns an async iterator of the Futures, in completion order
 * @throws TimeoutError from the iteration when `timeout` passes first; RangeError for a bad or unknown option
 * @example
 * for await (const f of asCompleted(futures)) console.log(await f.result())
 */
export function asCompleted<F extends Future<any>>(futures: Iterable<F>, options: AsCompletedOptions = {}): AsyncIterableIterator<Completed<F>> {
  const opts = plainObject('options', options)
  knownKeys('asCompleted()', opts, ['timeout'])
  const timeout = optionalTimeout('timeout', opts.timeout)
  const all = toFutureSet(futures, 'asCompleted()')
  return new CompletionIterator(all, deadlineOf(timeout), timeout) as AsyncIterableIterator<Completed<F>>
}

/**
 * Written by hand on purpose: an async generator awaits what it yields, and
 * a Future is awaitable, so `yield future` would yield its value instead.
 */
class CompletionIterator<F extends Future<any>> implements AsyncIterableIterator<F> {
  readonly #ready = new Deque<F>()
  readonly #pending = new Set<F>()
  readonly #total: number
  readonly #deadline: number
  readonly #timeout: number | undefined
  // Every next() in flight waits here; each completion wakes one, close() wakes all.
  readonly #waiters = new Deque<() => void>()
  #closed = false
  readonly #onDone = (future: Future<any>): void => {
    const f = future as F
    if (!this.#pending.delete(f)) return
    this.#ready.push(f)
    this.#waiters.shift()?.()
  }
  readonly #listen: Listen = (wake) => {
    this.#waiters.push(wake)
  }

  constructor(all: Set<F>, deadline: number, timeout: number | undefined) {
    this.#total = all.size
    this.#deadline = deadline
    this.#timeout = timeout
    for (const f of all) {
      if (f.done()) this.#ready.push(f)
      else this.#pending.add(f)
    }
    for (const f of this.#pending) f.addDoneCallback(this.#onDone)
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  async next(): Promise<IteratorResult<F>> {
    for (;;) {
      if (this.#closed) return { done: true, value: undefined }
      const f = this.#ready.shift()
      if (f !== undefined) return { done: false, value: f }
      if (this.#pending.size === 0) {
        this.#close()
        return { done: true, value: undefined }
      }
      if (remaining(this.#deadline) <= 0) {
        const unfinished = this.#pending.size
        this.#close()
        throw new TimeoutError(`asCompleted() timed out after ${this.#timeout} ms with ${unfinished} of ${this.#total} Futures unfinished`)
      }
      await until(this.#listen, this.#deadline)
    }
  }

  async return(): Promise<IteratorResult<F>> {
    this.#close()
    return { done: true, value: undefined }
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const f of this.#pending) f[kRemoveDoneCallback](this.#onDone)
    this.#pending.clear()
    this.#ready.clear()
    for (const wake of this.#waiters.drain()) wake()
  }
}

/**
 * `maxQueue`: a bound on the tasks waiting for a worker, and the
 * backpressure that goes with it.
 *
 *   submit ── admit(): a kept place, or room, or Full
 *   waitForRoom() ── room now? keep a place : wait in line ── check() on every
 *                                              settle and pump wakes callers in order
 *
 * A caller woken by `waitForRoom()` gets a place kept for it until the next
 * turn of the event loop, so the `submit` that follows its `await` never
 * throws `Full`, however many callers wait. A place nobody used goes back
 * at that turn. A caller whose timeout or signal ends its wait is skipped
 * and given no place. An executor that stops (shutdown, terminate, broken)
 * refuses every waiting caller with the error `submit` would throw.
 */
import { CancelledError, Full, TimeoutError } from '../errors.js'
import { deadlineOf, until } from '../internal/deadline.js'
import { Deque } from '../internal/deque.js'

/** Options of `waitForRoom`. */
export interface WaitForRoomOptions {
  /** Milliseconds to wait at most; then it rejects with TimeoutError. Default: no limit. */
  timeout?: number
  /** Aborting rejects it with CancelledError. */
  signal?: AbortSignal
}

/** A caller of waitForRoom(): woken with nothing once it has a place, or with the error that ends its wait. */
interface Waiter {
  wake: (error: Error | undefined) => void
  /** It stopped waiting (its timeout or signal): skipped, given no place. */
  gone: boolean
}

export class QueueBound {
  readonly #max: number
  /** Tasks waiting for a worker now. */
  readonly #queued: () => number
  /** The error a caller gets once the executor accepts no more work; null while it does. */
  readonly #closed: () => Error | null
  readonly #waiters = new Deque<Waiter>()
  /** Places kept for callers woken by waitForRoom(), given back at the next turn of the event loop. */
  #reserved = 0
  #release: NodeJS.Immediate | undefined = undefined
  #checkScheduled = false
  readonly #checkBound = (): void => this.check()

  constructor(max: number, queued: () => number, closed: () => Error | null) {
    this.#max = max
    this.#queued = queued
    this.#closed = closed
  }

  /** Whether callers wait for room. */
  get waiting(): boolean {
    return this.#waiters.length > 0
  }

  /** A task is submitted: it takes a place kept for it, or there must be room. Throws Full. */
  admit(): void {
    if (this.#reserved > 0) this.#reserved--
    else if (!this.#hasRoom()) {
      throw new Full(
        `The executor's queue is full: ${this.#max} tasks wait for a worker (maxQueue). \`await executor.waitForRoom()\` before submit waits for room; or raise maxQueue`,
      )
    }
  }

  /** Resolves once there is room, keeping a place; `timeout` and `signal` end the wait (checked by the caller). */
  wait(timeout: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const waiters = this.#waiters
    while (waiters.length > 0 && waiters.peek()!.gone) waiters.shift()
    if (waiters.length === 0 && this.#hasRoom()) {
      this.#reserve()
      return Promise.resolve()
    }
    let failure: Error | undefined
    const waiter: Waiter = { wake: () => {}, gone: false }
    const listen = (wake: () => void): (() => void) => {
      waiter.wake = (error) => {
        failure = error
        wake()
      }
      waiters.push(waiter)
      return () => {
        waiter.gone = true
      }
    }
    return until(listen, deadlineOf(timeout), signal).then((how) => {
      if (how === 'timed-out') {
        // The place it would have had goes to the next caller, if there is room now.
        this.scheduleCheck()
        throw new TimeoutError(`waitForRoom() timed out after ${timeout} ms: ${this.#max} tasks still wait for a worker (maxQueue)`)
      }
      if (how === 'aborted') {
        this.scheduleCheck()
        throw new CancelledError('waitForRoom() was aborted', { cause: signal!.reason })
      }
      if (failure !== undefined) throw failure
    })
  }

  /** Wakes waiting callers while there is room (keeping a place for each), or refuses them all once the executor stops. */
  check(): void {
    this.#checkScheduled = false
    const waiters = this.#waiters
    while (waiters.length > 0) {
      const closed = this.#closed()
      if (closed !== null) {
        for (const waiter of waiters.drain()) if (!waiter.gone) waiter.wake(closed)
        return
      }
      if (waiters.peek()!.gone) {
        waiters.shift()
        continue
      }
      if (!this.#hasRoom()) return
      this.#reserve()
      waiters.shift()!.wake(undefined)
    }
  }

  /** `check()` in a microtask, once however often asked: room appears after the scheduler took the next task. */
  scheduleCheck(): void {
    if (this.#checkScheduled) return
    this.#checkScheduled = true
    queueMicrotask(this.#checkBound)
  }

  #hasRoom(): boolean {
    return this.#queued() + this.#reserved < this.#max
  }

  #reserve(): void {
    this.#reserved++
    if (this.#release === undefined) {
      this.#release = setImmediate(() => {
        this.#release = undefined
        this.#reserved = 0
        if (this.#waiters.length > 0) this.check()
      })
    }
  }
}

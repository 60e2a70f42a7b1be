/**
 * The worker's side of `progress()` (task.ts): which task a call belongs to,
 * whether its value can travel, and how often it leaves.
 *
 *   progress(v) ─▶ global hook ─▶ AsyncLocalStorage: the running task's sink ─▶ throttle ─▶ runner posts
 *
 * A task runs inside its sink's AsyncLocalStorage context only when its
 * caller listens (FLAG_PROGRESS on its queue entry); every other task runs
 * as before and its `progress()` calls find no sink and do nothing. The
 * context follows the task's own awaits and timers, and a sink is closed
 * when its task ends, so a call from a timer the task left behind is
 * dropped instead of being taken for the next task's.
 *
 * The items of a chunk that run at once (a worker with
 * `concurrentTasksPerWorker` > 1) each run in the context of an
 * ItemProgress, their view of the chunk's sink that names the item, since
 * one `item` field cannot follow several items' awaits.
 *
 * The storage lives on globalThis, as the hook does: every copy of
 * multiproc loaded in one thread (the published package a task imports,
 * the copy that started the worker) shares it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { SerializationError } from '../errors.js'
import { findUncloneable } from '../wire/clone_check.js'

/** Progress forces a message at most once per this many milliseconds per worker (the latest value of each item wins). */
export const PROGRESS_INTERVAL_MS = 50

const HOOK = Symbol.for('multiproc.task.progress')
const STORAGE = Symbol.for('multiproc.task.storage')

type Global = Record<symbol, unknown>

/** What a running task's `progress()` reaches: its sink, or its item's view of its chunk's sink. */
interface ProgressTarget {
  send(value: unknown): void
}

const storage = ((globalThis as Global)[STORAGE] ??= new AsyncLocalStorage<ProgressTarget>()) as AsyncLocalStorage<ProgressTarget>
;(globalThis as Global)[HOOK] ??= (value: unknown): void => storage.getStore()?.send(value)

/**
 * Where a sink's values go, flattened: item, value, item, value... (`item`
 * is the index of the chunk's item that gave the value, 0 for a call).
 * `now`: send them at once; otherwise they go with the task's result.
 */
export type ProgressPost = (pairs: unknown[], now: boolean) => void

/**
 * When values last left at once. One clock per task runner, shared by its
 * tasks: a burst of tiny tasks that each report once then sends its values
 * with the results, in the same messages, instead of a message per task.
 */
export interface ProgressClock {
  last: number
}

export class ProgressSink {
  /** The item of the chunk that runs now (set by the runner before each item). */
  item = 0
  readonly #post: ProgressPost
  readonly #clock: ProgressClock
  #closed = false
  /**
   * Values waiting for the interval to end, flattened as posted: the latest
   * of each item, items in the order they ran. A chunk's items each keep
   * their last value; within one item (or a call) the latest wins.
   */
  #pending: unknown[] = []
  /** Where each item's value sits in `#pending`, once items interleave (they run at once). */
  #slots: Map<number, number> | undefined = undefined
  #timer: NodeJS.Timeout | undefined = undefined

  constructor(post: ProgressPost, clock: ProgressClock) {
    this.#post = post
    this.#clock = clock
  }

  /** A value from the task: checked now, sent now or when the interval is over. */
  send(value: unknown): void {
    this.sendFor(this.item, value)
  }

  /** A value from item `item` of the chunk (items that run at once call it through their ItemProgress). */
  sendFor(item: number, value: unknown): void {
    if (this.#closed) return
    const problem = findUncloneable(value, 'progress')
    if (problem !== null) {
      throw new SerializationError(`progress() was given a value that cannot be sent to the caller: ${problem.reason}`, {
        argIndex: -1,
        path: problem.path,
        reason: problem.reason,
      })
    }
    const pending = this.#pending
    if (pending.length > 0 && pending[pending.length - 2] === item) pending[pending.length - 1] = value
    else {
      const at = this.#slots?.get(item)
      if (at !== undefined) pending[at + 1] = value
      else {
        if (pending.length > 0) {
          // A second item: items interleave, so the last pair no longer finds each item's value.
          if (this.#slots === undefined) {
            this.#slots = new Map()
            for (let k = 0; k < pending.length; k += 2) this.#slots.set(pending[k] as number, k)
          }
          this.#slots.set(item, pending.length)
        }
        pending.push(item, value)
      }
    }
    const now = performance.now()
    const wait = this.#clock.last + PROGRESS_INTERVAL_MS - now
    if (wait <= 0) this.#sendPending(now)
    else
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined
        if (!this.#closed) this.#sendPending(performance.now())
      }, wait).unref()
  }

  /**
   * Values relayed from a task runner nested in this task (a cluster
   * worker's thread runs its units on one): already checked and throttled
   * there, per unit, so they leave at once.
   */
  forward(value: unknown): void {
    if (!this.#closed) this.#post([0, value], true)
  }

  /** The task ended: its last values go out (before its result), later calls are dropped. */
  close(): void {
    if (this.#closed) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#pending.length > 0) this.#post(this.#pending, false)
    this.#pending = []
    this.#slots = undefined
    this.#closed = true
  }

  #sendPending(now: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#clock.last = now
    const pairs = this.#pending
    this.#pending = []
    this.#slots = undefined
    if (pairs.length > 0) this.#post(pairs, true)
  }
}

/** One item's view of its chunk's sink, for items that run at once: its `progress()` calls name it. */
export class ItemProgress {
  constructor(
    readonly sink: ProgressSink,
    readonly item: number,
  ) {}

  send(value: unknown): void {
    this.sink.sendFor(this.item, value)
  }
}

/** Runs `call` with `sink` as the running task's (or item's), through its awaits and timers. */
export function withProgress<R>(sink: ProgressSink | ItemProgress, call: () => R): R {
  return storage.run(sink, call)
}

/** Runs `call` outside any task's progress context (a runner nested in a task starts there). */
export function outsideProgress<R>(call: () => R): R {
  return storage.exit(call)
}

/** The sink of the task running here, if its caller listens. */
export function currentSink(): ProgressSink | undefined {
  const target = storage.getStore()
  // Another copy of multiproc's sink passes as it is, as it always did.
  return target instanceof ItemProgress ? target.sink : (target as ProgressSink | undefined)
}

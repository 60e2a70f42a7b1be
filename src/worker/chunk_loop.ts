/**
 * The items of a map chunk run one at a time (runtime.ts, no lanes): the
 * hot loop of a map of tiny items, apart from the task loop.
 *
 *   run(from) ─▶ item ─▶ value pushed to the part ─▶ next item ... ─▶ end
 *                  └─ a thenable: stop there (the caller awaits it, pushes it, runs on from the next)
 *
 * It lives in a small synchronous function of its own because V8 optimizes
 * a loop by compiling its whole function: inside the task loop (a large
 * async function) that took 70-100 ms of a compiler thread, competing for
 * the cores with the workers, and was thrown away twice, so the first
 * million items of a pool ran unoptimized (about 200 ns an item instead of
 * a few). This function compiles in a few milliseconds.
 *
 * Before each item but the first it records the item's index (the crash
 * bookkeeping of runtime.ts), and every `stride` items it reads the clock:
 * the values finished more than CHUNK_FLUSH_MS ago go back with a flush.
 */
import { serializeError, type SerializedError } from '../wire/remote_error.js'
import type { LoadedTask } from './task_loader.js'
import type { ChunkPart, ResultBuffer } from './result_buffer.js'
import type { ProgressSink } from './progress_sink.js'

/**
 * Inside a chunk, values finished this long ago go back with the next flush.
 * Longer than the task loop's 1 ms: a chunk sized to run about a millisecond
 * (map's 'auto') then still costs one message, not two.
 */
const CHUNK_FLUSH_MS = 10
/** Items of a chunk run between two clock reads at most, and the time those reads aim to be apart. */
const MAX_STRIDE = 256
const CHECK_EVERY_MS = 0.05
/** COUNTER_ITEM of runtime.ts (not imported: runtime.ts imports this file). */
const COUNTER_ITEM = 2

export type WithProgress = <R>(sink: ProgressSink, call: () => R) => R

export class ChunkLoop {
  /** The thenable the item at the index run() returned gave, when run() stopped before the end. */
  pending: PromiseLike<unknown> | undefined = undefined
  // The clock is read before an item only every `stride` items: the stride
  // doubles while items are tiny (a clock read would cost as much as the
  // item) and drops to 1 after a slow one.
  #stride = 1
  #countdown = 1
  #lastCheck: number

  constructor(
    readonly out: ResultBuffer,
    readonly part: ChunkPart,
    /** The shared counters (thread backend), or null. */
    readonly counters: Int32Array | null,
    /** Records the index of the item about to start, where there are no shared counters. */
    readonly item: ((index: number) => void) | undefined,
    t0: number,
  ) {
    this.#lastCheck = t0
  }

  /**
   * Runs items from `from` on; returns args.length when all ran, or the
   * index of an item that returned a thenable (in `pending`, its value not
   * pushed). `flat`: an item is the argument itself, not an argument list.
   */
  run(fn: LoadedTask, args: ArrayLike<unknown>, flat: boolean, from: number, sink: ProgressSink | undefined, withProgress: WithProgress | undefined): number {
    // Each item's work is kept to a few operations, in locals: the first
    // chunks of a pool run before V8 has optimized this loop.
    const part = this.part
    const counters = this.counters
    const item = this.item
    let countdown = this.#countdown
    const end = args.length
    for (let i = from; i < end; i++) {
      if (i > 0) {
        // A plain store: the caller reads it only once this thread is gone (futures/worker_loss.ts).
        if (counters !== null) counters[COUNTER_ITEM] = i
        else if (item !== undefined) item(i)
        if (--countdown === 0) countdown = this.#check()
      }
      let value: unknown
      try {
        value = sink !== undefined ? callWithProgress(fn, args[i], flat, i, sink, withProgress!) : flat ? fn(args[i]) : fn(...(args[i] as unknown[]))
        if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
          if (typeof (value as PromiseLike<unknown>).then === 'function') {
            this.#countdown = countdown
            this.pending = value as PromiseLike<unknown>
            return i
          }
          value = this.out.unwrapTransfer(value)
        }
      } catch (error) {
        this.failed(i, error)
        continue
      }
      // part.v read each time: a flush (here, or when an item blocks its thread in a sync wait) starts a new array.
      part.v.push(value)
    }
    this.#countdown = countdown
    return end
  }

  /** Item `i` threw, or its thenable rejected. */
  failed(i: number, error: unknown): void {
    this.part.v.push(undefined)
    ;(this.part.e ??= []).push([i, serializeError(error) as SerializedError])
  }

  /** Reads the clock (flushes when the part is CHUNK_FLUSH_MS old); returns the items until the next read. */
  #check(): number {
    const now = performance.now()
    if (now - this.part.at > CHUNK_FLUSH_MS) this.out.flush()
    this.#stride = now - this.#lastCheck < CHECK_EVERY_MS ? Math.min(this.#stride * 2, MAX_STRIDE) : 1
    this.#lastCheck = now
    return this.#stride
  }
}

/** Item `i` in its progress context: its progress() calls name it. */
function callWithProgress(fn: LoadedTask, itemArgs: unknown, flat: boolean, i: number, sink: ProgressSink, withProgress: WithProgress): unknown {
  sink.item = i
  return withProgress(sink, () => (flat ? fn(itemArgs) : fn(...(itemArgs as unknown[]))))
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

/**
 * Lanes: at most `size` things in flight at once, handed out in the order
 * they were asked for. A worker with `concurrentTasksPerWorker` N runs its
 * tasks, and the items of its chunks, in N lanes (runtime.ts); `multiproc
 * map` runs the lines of its blocks in them (cli/line_task.ts).
 *
 * Taking a free lane is synchronous (`tryTake`), so a burst of tasks that
 * finish at once costs no promise each; only a taker that must wait gets one.
 */
import { Deque } from '../internal/deque.js'

export class Lanes {
  readonly size: number
  #free: number
  readonly #waiters = new Deque<() => void>()

  constructor(size: number) {
    this.size = size
    this.#free = size
  }

  /** Takes a lane if one is free and nobody is waiting for one already. */
  tryTake(): boolean {
    if (this.#free === 0 || this.#waiters.length > 0) return false
    this.#free--
    return true
  }

  /** Resolves once the caller holds a lane (waiters are served in order). */
  take(): Promise<void> {
    if (this.tryTake()) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Gives a lane back: to the first waiter, if any. */
  give(): void {
    const next = this.#waiters.shift()
    if (next !== undefined) next()
    else this.#free++
  }

  /** Lanes in use. */
  get busy(): number {
    return this.size - this.#free
  }
}

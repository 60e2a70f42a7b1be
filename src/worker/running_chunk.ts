/**
 * A map chunk whose items run at once, in a worker's lanes (runtime.ts,
 * `concurrentTasksPerWorker` > 1): items start in order but end in any
 * order, and the outcome goes back in item order all the same.
 *
 *   items ─▶ started in order ─▶ end in any order ─▶ values by item
 *                                                      │
 *   part():    the items ended in a row since the last part (sent ahead)
 *   outcome(): the rest, once every item ended
 *
 * A part never skips an item still running: the caller appends a part's
 * values where the previous part ended (futures/chunk_progress.ts), as it
 * does for a chunk whose items run one at a time.
 */
import { STATUS_OK, type ChunkOutcome } from '../wire/messages.js'
import type { SerializedError } from '../wire/remote_error.js'
import type { ProgressSink } from './progress_sink.js'

const RUNNING = 0
const ENDED_OK = 1
const ENDED_ERROR = 2

export class RunningChunk {
  /** Values by item; the serialized error of an item that threw. */
  readonly #values: unknown[]
  readonly #ended: Uint8Array
  /** Items not ended yet (started or not). */
  left: number
  /** Items sent ahead in parts: the next part starts here. */
  #base = 0
  /** The first item not ended: items before it ended in a row. */
  #next = 0

  constructor(
    /** The chunk's sequence number among the tasks its worker received. */
    readonly seq: number,
    items: number,
    /** When it started (performance.now()). */
    readonly startedAt: number,
    /** Its progress sink, when its caller listens. */
    readonly sink: ProgressSink | undefined,
  ) {
    this.#values = new Array<unknown>(items)
    this.#ended = new Uint8Array(items)
    this.left = items
  }

  /** Item `i` ended with a value (STATUS_OK) or a serialized error. */
  end(i: number, status: number, value: unknown): void {
    if (this.#ended[i] !== RUNNING) return
    this.#ended[i] = status === STATUS_OK ? ENDED_OK : ENDED_ERROR
    this.#values[i] = value
    this.left--
    while (this.#next < this.#ended.length && this.#ended[this.#next] !== RUNNING) this.#next++
  }

  /** Items sent in parts so far: the next part's first item. */
  get sent(): number {
    return this.#base
  }

  /** The items ended in a row since the last part, or null when there are none. */
  part(): ChunkOutcome | null {
    if (this.#next === this.#base) return null
    return this.#take(this.#next, 0)
  }

  /** The chunk's outcome, once every item ended: the items not sent in parts. `ms`: the chunk's run time. */
  outcome(ms: number): ChunkOutcome {
    return this.#take(this.#ended.length, ms)
  }

  /** Items [base, end) as an outcome; `e` indexes count from the chunk's first item. */
  #take(end: number, ms: number): ChunkOutcome {
    // Pushed into a fresh array: a packed array is cloned in one dense run.
    const v: unknown[] = []
    let e: [number, SerializedError][] | undefined
    for (let i = this.#base; i < end; i++) {
      if (this.#ended[i] === ENDED_ERROR) {
        v.push(undefined)
        ;(e ??= []).push([i, this.#values[i] as SerializedError])
      } else {
        v.push(this.#values[i])
      }
      this.#values[i] = undefined
    }
    this.#base = end
    return { v, e, d: ms }
  }
}

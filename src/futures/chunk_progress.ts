/**
 * What is known of one map chunk whose outcome came in pieces: values sent
 * ahead by a worker while the chunk ran (runtime.ts), and what survived a
 * worker that died in the middle of it.
 *
 *   items ─▶ sent (this dispatch, in order) ─▶ outcomes by item index
 *                 ▲                                   │
 *                 └─ items without an outcome ◀───────┘ after a crash
 *
 * The scheduler creates one only when a chunk needs it (a partial delivery
 * or a crash); a chunk that finishes in one piece never does.
 *
 * Pieces of the first dispatch that arrive in order (the common case: a
 * long chunk of tiny items sends its values every CHUNK_FLUSH_MS) are kept
 * as they came and joined once at the end; the values are copied item by
 * item into a table only when something needs it (a crash, a retry). On a
 * million items the table cost about as much as running them.
 */
import type { ChunkOutcome } from '../wire/messages.js'
import type { SerializedError } from '../wire/remote_error.js'
import type { ChunkResult } from './map_engine.js'
import type { RetryPolicy } from './retry_policy.js'
import { joinArrays } from '../internal/join_arrays.js'
import { unpacked } from '../internal/pack_numbers.js'

export class ChunkProgress {
  readonly #items: unknown[]
  /** The values received, in order from item 0, while no table is needed; null once #table() made one. */
  #pieces: unknown[][] | null = []
  /** Values by item and which items have an outcome (made by #table()). */
  #values: unknown[] = []
  #have: Uint8Array = new Uint8Array(0)
  #errors: Map<number, unknown> | undefined = undefined
  #remaining: number
  /** Item indexes of the current dispatch, in the order sent; null: all items, in order. */
  #sent: number[] | null = null
  /** Outcomes of the current dispatch received so far (they arrive in order). */
  #received = 0
  #ms = 0
  /** Runs left for items whose worker crashed under them (absent: the chunk's `retries`). */
  #retriesLeft: Map<number, number> | undefined = undefined

  constructor(items: unknown[]) {
    this.#items = items
    this.#remaining = items.length
  }

  /** The item index of the `j`-th item of the current dispatch (clamped to it). */
  itemAt(j: number): number {
    const count = this.#sent === null ? this.#items.length : this.#sent.length
    const k = Math.max(0, Math.min(j, count - 1))
    return this.#sent === null ? k : this.#sent[k]!
  }

  /** How many items of the current dispatch have an outcome. */
  get received(): number {
    return this.#received
  }

  has(index: number): boolean {
    return this.#table()[index] === 1
  }

  /** Records the next outcomes of the current dispatch (a part, or the chunk's final outcome). */
  add(outcome: ChunkOutcome, revive: (error: SerializedError) => unknown): void {
    const start = this.#received
    const values = outcome.v
    if (this.#pieces !== null && this.#sent === null) {
      // The first dispatch, in order: item start + j is values[j], none had an outcome yet.
      this.#pieces.push(unpacked(values))
      this.#remaining -= values.length
    } else {
      this.#table()
      for (let j = 0; j < values.length; j++) this.#set(this.itemAt(start + j), values[j])
    }
    if (outcome.e !== undefined) for (const [j, error] of outcome.e) (this.#errors ??= new Map()).set(this.itemAt(j), revive(error))
    this.#received += values.length
    this.#ms += outcome.d
  }

  /** Settles one item with an error (its worker crashed and it has no runs left). */
  fail(index: number, error: unknown): void {
    this.#table()
    this.#set(index, undefined)
    ;(this.#errors ??= new Map()).set(index, error)
  }

  /** Takes one run of `index`'s retries (`initial` when none was taken yet); false when none is left. */
  takeRetry(index: number, initial: number): boolean {
    const left = this.#retriesLeft?.get(index) ?? initial
    if (left <= 0) return false
    ;(this.#retriesLeft ??= new Map()).set(index, left - 1)
    return true
  }

  /**
   * Items that threw an error `policy` retries, and have a run left (of
   * `initial`, shared with crash retries), lose their outcome so that
   * `resend()` sends them again. Returns how many, and the highest run
   * number among them (for the backoff).
   */
  retryFailed(policy: RetryPolicy, initial: number): { items: number; attempt: number } {
    let items = 0
    let attempt = 0
    const errors = this.#errors
    if (errors === undefined) return { items, attempt }
    this.#table()
    for (const [index, error] of errors) {
      const run = initial - (this.#retriesLeft?.get(index) ?? initial) + 1
      if (!policy.matches(error, run) || !this.takeRetry(index, initial)) continue
      errors.delete(index)
      this.#have[index] = 0
      this.#values[index] = undefined
      this.#remaining++
      items++
      attempt = Math.max(attempt, run)
    }
    if (errors.size === 0) this.#errors = undefined
    return { items, attempt }
  }

  get complete(): boolean {
    return this.#remaining === 0
  }

  /** Starts a new dispatch of the items without an outcome; returns them, in order. */
  resend(): unknown[] {
    this.#table()
    const sent: number[] = []
    for (let i = 0; i < this.#have.length; i++) if (this.#have[i] === 0) sent.push(i)
    this.#sent = sent
    this.#received = 0
    return sent.map((i) => this.#items[i])
  }

  result(): ChunkResult {
    const pieces = this.#pieces
    // Array.from: a packed array, holes (none by now) as undefined.
    const values = pieces === null ? Array.from(this.#values) : joinArrays(pieces)
    return { values, errors: this.#errors, ms: this.#ms }
  }

  /** Makes the table of values by item from the pieces, once; returns which items have an outcome. */
  #table(): Uint8Array {
    const pieces = this.#pieces
    if (pieces === null) return this.#have
    this.#pieces = null
    const values = new Array<unknown>(this.#items.length)
    const have = new Uint8Array(this.#items.length)
    let k = 0
    for (const piece of pieces) {
      for (let j = 0; j < piece.length; j++, k++) values[k] = piece[j]
    }
    have.fill(1, 0, k)
    this.#values = values
    this.#have = have
    return have
  }

  #set(index: number, value: unknown): void {
    if (this.#have[index] === 1) return
    this.#have[index] = 1
    this.#values[index] = value
    this.#remaining--
  }
}

/**
 * The delivery counts a worker has seen, per message of the stream. A task
 * is poison past its limit of deliveries (task_consumer.ts), counted by
 * JetStream, whose count of a message should only grow. nats-server before
 * 2.10.14 can break that: when a redelivery finds only pull requests whose
 * worker is gone (killed, or stopped and withdrawn), it takes the message
 * for new again and hands it out once more as delivery 1, beside the
 * redeliveries that go on counting (nats-io/nats-server#5305). Taken at its
 * word, such a repeat runs a task past its limit, even one already failed
 * as poison.
 *
 * A worker that has seen the message at a higher count catches the repeat:
 * while it holds the message, or after it acked or terminated it, the repeat
 * is let be (its own delivery answers for the message, and acking the
 * repeat would ack the message under a run that goes on); after it gave the
 * message back, the repeat counts as the delivery after the highest one
 * seen. A repeat that reaches a worker that never saw the message (its
 * earlier deliveries went to workers that died) is not caught: a server
 * with the fix is what prevents those.
 */
import type { Delivery } from './held_message.js'

type JsMsg = import('@nats-io/jetstream').JsMsg

/** Whether nats-server `version` can repeat a delivery as delivery 1 (fixed in 2.10.14). */
export function repeatsDeliveries(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0)
  return major < 2 || (major === 2 && (minor < 10 || (minor === 10 && patch < 14)))
}

/** How long a message's count is kept once this worker no longer holds it, ms, and how many are kept at most. */
const KEEP_MS = 10 * 60_000
const KEEP_MAX = 100_000

interface Seen {
  /** The highest delivery count of the message that this worker saw (or counted). */
  highest: number
  /** Deliveries of it this worker holds now. */
  holding: number
  /** This worker acked or terminated it: the message is gone from the stream. */
  finished: boolean
  /** When this worker last took or let go of it (performance.now()). */
  at: number
}

/** What to do with a delivery: run it as delivery `count`, or let it be (a repeat of a message held or finished here). */
export type Receipt = { count: number; repeatOf?: number; delivery: Delivery } | { letBe: true; repeatOf: number }

export class DeliveryCounts {
  /** By stream sequence, oldest first. */
  readonly #seen = new Map<number, Seen>()

  /** Messages whose counts are kept (for tests). */
  get size(): number {
    return this.#seen.size
  }

  /** A delivery of a stream message arrived: how it counts, and the Delivery that records what becomes of it. */
  receive(msg: JsMsg): Receipt {
    const now = performance.now()
    const dc = msg.info.deliveryCount
    let seen = this.#seen.get(msg.seq)
    let repeatOf: number | undefined
    if (seen === undefined) {
      this.#prune(now)
      seen = { highest: dc, holding: 0, finished: false, at: now }
      this.#seen.set(msg.seq, seen)
    } else if (dc > seen.highest) {
      seen.highest = dc
    } else {
      // JetStream counted lower than before: a repeat.
      repeatOf = seen.highest
      if (seen.holding > 0 || seen.finished) return { letBe: true, repeatOf }
      seen.highest++
    }
    seen.holding++
    seen.at = now
    return { count: seen.highest, repeatOf, delivery: new StreamDelivery(msg, seen.highest, seen) }
  }

  /** Drops the counts of messages let go of long ago, and the oldest ones past KEEP_MAX. */
  #prune(now: number): void {
    for (const [seq, seen] of this.#seen) {
      if (seen.holding > 0) continue
      if (now - seen.at < KEEP_MS && this.#seen.size < KEEP_MAX) break
      this.#seen.delete(seq)
    }
  }
}

/** A stream message as a worker holds it: its delivery count as counted here, and what the worker does with it recorded. */
class StreamDelivery implements Delivery {
  readonly info: { readonly deliveryCount: number }
  readonly #msg: JsMsg
  readonly #seen: Seen
  #released = false

  constructor(msg: JsMsg, count: number, seen: Seen) {
    this.#msg = msg
    this.#seen = seen
    this.info = { deliveryCount: count }
  }

  ack(): void {
    this.#release(true)
    this.#msg.ack()
  }

  term(reason?: string): void {
    this.#release(true)
    this.#msg.term(reason)
  }

  nak(millis?: number): void {
    this.#release(false)
    this.#msg.nak(millis)
  }

  working(): void {
    this.#msg.working()
  }

  #release(finished: boolean): void {
    if (this.#released) return
    this.#released = true
    this.#seen.holding--
    if (finished) this.#seen.finished = true
    this.#seen.at = performance.now()
  }
}

/**
 * Direct delivery: a task that finds its caller with nothing else in
 * flight goes straight to an idle worker over core NATS, around the
 * stream, and the stream is the fallback.
 *
 *   caller ──publish {prefix}.direct, reply {prefix}.s.{session}.d.{id}──▶ one worker (a queue group)
 *     idle worker: runs it; its result comes back as any result does
 *     busy worker: an empty reply ─┐
 *     no worker listening: the server's 503 (no responders) ─┴──▶ the caller publishes it to the stream
 *
 * Why: a single task's round trip through JetStream adds the stream's
 * store and pull delivery to the two core hops a task and its result cost
 * anyway; a latency-bound caller (submit, await, the next) pays it on every
 * task. A burst gains nothing here (its tasks are packed into few messages),
 * so only a task sent when nothing else of its caller is in flight tries
 * this path. A worker that takes a task says nothing at once: a short
 * task's result is its answer. One still running after TAKEN_NOTICE_MS
 * says `working` (with the ack wait it beats against), and again each
 * quarter of that ack wait, as it signals JetStream for a held message.
 *
 * The guarantees stay those of the stream. Delivery is at least once: a
 * caller that hears nothing of a task for DIRECT_REPLY_TIMEOUT_MS (2 s), or
 * nothing more for an ack wait once it ran, publishes it to the stream
 * (its worker died or hung), as JetStream would redeliver it. A worker
 * that stops with the task unfinished says `back`, and the caller publishes
 * it at once. A task that goes to the stream after a worker may have run
 * it counts that delivery (`TaskUnit.d`), so it is still poison past
 * max(--max-deliver, 1 + retries) deliveries and `--max-deliver 1` still
 * means at most once. The caller settles each task once, whichever run
 * reports first.
 */
import type { NatsConnection } from './nats_client.js'
import { NATS_PROTOCOL_VERSION, decode, encode, type Names, type TaskMessage, type ToCaller } from './protocol.js'
import type { Delivery, HeldMessage } from './held_message.js'

/**
 * How long a caller waits to hear anything of a task it sent directly (its
 * result, `working`, busy) before it uses the stream: the default ack wait,
 * so that a worker slow to start the task (a loaded machine, a module to
 * compile) has the time the stream would give it before the task runs twice.
 */
export const DIRECT_REPLY_TIMEOUT_MS = 2_000
/** After a busy answer or none, how long a caller sends through the stream only (the cluster is loaded, or has no worker that listens). */
export const DIRECT_PAUSE_MS = 1_000
/** A worker says it took a task once the task runs this long (a shorter task's result says it). */
export const TAKEN_NOTICE_MS = 20

/** The worker's side of a task message taken directly: what a JetStream message offers, told to the caller instead. */
export class DirectDelivery implements Delivery {
  readonly info = { deliveryCount: 1 }
  readonly #nc: NatsConnection
  readonly #subject: string
  readonly #ackWait: () => number
  #held: HeldMessage | null = null
  #notice: NodeJS.Timeout | undefined

  constructor(nc: NatsConnection, sessionSubject: string, ackWait: () => number) {
    this.#nc = nc
    this.#subject = sessionSubject
    this.#ackWait = ackWait
  }

  /** The held message this delivery belongs to (its open tasks are what `working` and `back` name); a notice goes if they run long. */
  bind(held: HeldMessage): void {
    this.#held = held
    this.#notice = setTimeout(() => this.working(), TAKEN_NOTICE_MS)
    this.#notice.unref()
  }

  /** Every result was confirmed: nothing more to tell. */
  ack(): void {
    clearTimeout(this.#notice)
  }

  /** The caller is gone: nobody to tell. */
  term(): void {
    clearTimeout(this.#notice)
  }

  /** The tasks still run here. */
  working(): void {
    this.#tell('working')
  }

  /** This worker gives the tasks up (it stops, or lost the caller for a while): the caller publishes them to the stream. */
  nak(): void {
    clearTimeout(this.#notice)
    this.#tell('back')
  }

  #tell(t: 'working' | 'back'): void {
    const ids = this.#held === null || this.#held.done ? [] : [...this.#held.open]
    if (ids.length === 0) return
    const message: ToCaller = t === 'working' ? { v: NATS_PROTOCOL_VERSION, t, ids, w: this.#ackWait() } : { v: NATS_PROTOCOL_VERSION, t, ids }
    try {
      this.#nc.publish(this.#subject, encode(message))
    } catch {
      // closed: the caller's watch publishes the tasks after an ack wait of silence
    }
  }
}

export interface DirectInboxOptions {
  nc: NatsConnection
  names: Names
  /** Whether a task taken now would find a free thread. */
  idle(): boolean
  /** The ack wait this worker beats against, ms. */
  ackWait(): number
  /** A task message was taken: run it (its caller is there: it just sent it). */
  onMessage(delivery: DirectDelivery, message: TaskMessage): void
}

/** The worker's subscription to direct tasks: takes one when idle, answers busy otherwise. */
export class DirectInbox {
  readonly #options: DirectInboxOptions
  readonly #sub: { unsubscribe(): void }

  constructor(options: DirectInboxOptions) {
    this.#options = options
    const { nc, names } = options
    this.#sub = nc.subscribe(names.directSubject, { queue: names.consumer, callback: (error, msg) => (error === null ? this.#onTask(msg) : undefined) })
  }

  /** Takes no more tasks (the worker stops). */
  close(): void {
    this.#sub.unsubscribe()
  }

  #onTask(msg: import('@nats-io/transport-node').Msg): void {
    if (!msg.reply) return
    let message: TaskMessage | null = null
    try {
      message = decode<TaskMessage>(msg.data)
    } catch {
      // unreadable: busy, so the caller uses the stream, where the message is refused with a log line
    }
    if (message !== null && message.v === NATS_PROTOCOL_VERSION && Array.isArray(message.q) && typeof message.s === 'string' && this.#options.idle()) {
      this.#options.onMessage(new DirectDelivery(this.#options.nc, this.#options.names.sessionSubject(message.s), this.#options.ackWait), message)
    } else {
      msg.respond(BUSY)
    }
  }
}

const BUSY = new Uint8Array(0)

/** What the caller knows of a task it sent directly. */
interface Sent {
  /** When the worker last said anything of it (sent: when it was sent). */
  seen: number
  /** Silence longer than this, ms, means nobody runs it: DIRECT_REPLY_TIMEOUT_MS until a worker said it took it, then its ack wait. */
  limit: number
  /** Publishes the task to the stream; `counted`: a worker may have run it. */
  toStream: (counted: boolean) => void
}

export interface DirectSendsOptions {
  nc(): NatsConnection
  names: Names
  session: string
}

/**
 * The caller's side: sends tasks directly when it may, and watches them
 * until their results come.
 */
export class DirectSends {
  readonly #options: DirectSendsOptions
  readonly #sent = new Map<string, Sent>()
  /** Until when tasks go through the stream only (performance.now()). */
  #pausedUntil = 0
  #watch: NodeJS.Timeout | undefined
  #every = 0
  #replies: { unsubscribe(): void } | null = null

  constructor(options: DirectSendsOptions) {
    this.#options = options
  }

  /** Tasks sent directly and not settled (for tests). */
  get size(): number {
    return this.#sent.size
  }

  /** Whether a task sent now, with `inflight` tasks in flight counting itself and `queued` waiting, should go directly. */
  wanted(inflight: number, queued: number): boolean {
    return inflight === 1 && queued === 0 && performance.now() >= this.#pausedUntil
  }

  /** Sends task `id` (its message `data`) to an idle worker; `toStream(counted)` publishes it to the stream if that fails. */
  send(id: string, data: Uint8Array, toStream: (counted: boolean) => void): void {
    const { names, session } = this.#options
    const nc = this.#options.nc()
    // Busy answers and the server's no-responders come to a subject of the task's own.
    this.#replies ??= nc.subscribe(`${names.sessionSubject(session)}.d.*`, { callback: (error, msg) => (error === null ? this.#onReply(msg) : undefined) })
    this.#sent.set(id, { seen: performance.now(), limit: DIRECT_REPLY_TIMEOUT_MS, toStream })
    this.#arm(DIRECT_REPLY_TIMEOUT_MS)
    try {
      nc.publish(names.directSubject, data, { reply: `${names.sessionSubject(session)}.d.${id}` })
    } catch {
      this.#toStream(id, false)
    }
  }

  /** A worker says these tasks run, and the ack wait it beats against. */
  working(ids: readonly string[], ackWait: unknown): void {
    const now = performance.now()
    const limit = typeof ackWait === 'number' && ackWait > 0 ? ackWait : undefined
    for (const id of ids) {
      const sent = this.#sent.get(id)
      if (sent === undefined) continue
      sent.seen = now
      if (limit !== undefined) {
        sent.limit = limit
        this.#arm(limit)
      }
    }
  }

  /** A worker gave these tasks up: they go to the stream now. */
  back(ids: readonly string[]): void {
    for (const id of ids) this.#toStream(id, true)
  }

  /** Task `id` settled or reported (or went to the stream): nothing more to watch. True when it had been sent directly. */
  forget(id: string): boolean {
    if (!this.#sent.delete(id)) return false
    if (this.#sent.size === 0) this.#disarm()
    return true
  }

  /** Stops watching (the executor closes). */
  close(): void {
    this.#sent.clear()
    this.#disarm()
    this.#replies?.unsubscribe()
    this.#replies = null
  }

  /** Busy (an empty reply) or no responders (the server's 503): the stream, and only the stream for a while. */
  #onReply(msg: import('@nats-io/transport-node').Msg): void {
    const id = msg.subject.slice(msg.subject.lastIndexOf('.') + 1)
    this.#pausedUntil = performance.now() + DIRECT_PAUSE_MS
    this.#toStream(id, false)
  }

  #toStream(id: string, counted: boolean): void {
    const sent = this.#sent.get(id)
    if (sent === undefined) return
    this.forget(id)
    sent.toStream(counted)
  }

  /** Watches silences of `limit` ms each eighth of it: a task whose worker died goes to the stream at most that much after the ack wait. */
  #arm(limit: number): void {
    const every = Math.max(25, Math.floor(limit / 8))
    if (this.#watch !== undefined && every >= this.#every) return
    clearInterval(this.#watch)
    this.#every = every
    this.#watch = setInterval(() => this.#tick(), every)
    // The Futures keep the caller waiting, not this watch.
    this.#watch.unref()
  }

  #disarm(): void {
    clearInterval(this.#watch)
    this.#watch = undefined
  }

  #tick(): void {
    // Checked after this turn's I/O: a caller that was busy for a while reads what the workers said
    // meanwhile before it takes their silence for death (timers run before the socket is read).
    setImmediate(() => this.#expire())
  }

  #expire(): void {
    const now = performance.now()
    for (const [id, sent] of this.#sent) {
      if (now - sent.seen <= sent.limit) continue
      // Nothing heard since it was sent: it may have reached a worker that died at once.
      this.#pausedUntil = now + DIRECT_PAUSE_MS
      this.#toStream(id, true)
    }
  }
}

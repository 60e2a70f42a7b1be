/**
 * The worker's side of the work-queue stream: the shared durable consumer
 * (created or updated at start) and the pull loop that keeps up to
 * `prefetch` task messages held. Messages are decoded here; one that cannot
 * be read or speaks another protocol version is terminated with a log line.
 *
 * Ack wait. `ack_wait` is a setting of the one consumer every worker shares,
 * not of a worker: the last worker that starts sets it (last writer wins), so
 * a rolling restart with a new `--ack-wait` changes it for everyone. Each
 * worker therefore reads the value back from JetStream after its own
 * create/update, again every few seconds, and heartbeats each quarter of
 * what it read (nats_worker.ts), whatever its own `--ack-wait` said. A
 * worker about to lower the value first tells the others
 * (`{prefix}.ackwait`) and waits a moment, so that a long task on a worker
 * that heartbeats at the old pace is not redelivered while it runs.
 *
 * Deliveries. The consumer itself has no max_deliver: a worker decides when
 * a task is poison (`deliveryLimit`), per task, since the limit depends on
 * the task's `retries`, so every delivery reaches a worker that can fail it
 * clearly rather than leave it stuck in the stream. A count that goes
 * backwards (a repeat some servers send) is caught where it can be
 * (delivery_counts.ts).
 *
 * Pulls. A worker's pull request waits at the server until it expires; one
 * of a worker that died stays there until the server next looks at it, at
 * the request's idle heartbeat (half its expiry). A redelivery that finds
 * only such requests is lost to the count (and nats-server before 2.10.14
 * then repeats the message as delivery 1). So a pull expires after the ack
 * wait (1 to 10 s): a dead worker's request is gone within half an ack wait,
 * before its tasks' redelivery is due (an ack wait less a heartbeat, three
 * quarters of it, after its last signal).
 */
import { ClusterError } from '../../errors.js'
import { loadNats, type NatsConnection } from './nats_client.js'
import { NATS_PROTOCOL_VERSION, decode, encode, type AckWaitNotice, type Names, type TaskMessage, type TaskUnit } from './protocol.js'
import { DeliveryCounts } from './delivery_counts.js'
import type { Delivery } from './held_message.js'

type JsMsg = import('@nats-io/jetstream').JsMsg

/** How long a worker that lowers ack_wait waits after its notice, so the others heartbeat at the new pace first. */
const LOWER_NOTICE_MS = 300
/** How long a noticed lower value wins over what JetStream says (a read made before the change). */
const NOTICE_HOLD_MS = 10_000
/** A pull request expires after the ack wait, within these bounds (ms): its heartbeat, which lets the server find it gone, is half that. */
const PULL_EXPIRES_MIN_MS = 1_000
const PULL_EXPIRES_MAX_MS = 10_000

/**
 * Deliveries a task may take: past them it is a poison task (every worker
 * that took it died or hung). `maxDeliver` is the worker's setting (the
 * floor: on a cluster, redelivery after a lost worker is the point), and a
 * task's `retries` raises it to 1 + retries, so a task runs again after a
 * lost worker at least as many times as after a crashed thread.
 */
export function deliveryLimit(maxDeliver: number, unit: Pick<TaskUnit, 'r'>): number {
  return Math.max(maxDeliver, 1 + (unit.r > 0 ? unit.r : 0))
}

export interface TaskConsumerOptions {
  names: Names
  /** Milliseconds without an in-progress signal before JetStream redelivers: what this worker sets on the consumer. */
  ackWait: number
  /** Task messages held at once. */
  prefetch: number
  /** How many messages the worker holds now. */
  held(): number
  /** A task message arrived; `msg.info.deliveryCount` is its count as this worker counts it (delivery_counts.ts). */
  onMessage(msg: Delivery, message: TaskMessage): void
  log(line: string): void
  trace: boolean
}

export class TaskConsumer {
  readonly #options: TaskConsumerOptions
  readonly #consumer: import('@nats-io/jetstream').Consumer
  /** Messages asked for and not received yet. */
  #requested = 0
  #running = true
  /** The pulls waiting for messages: closed at stop, so that the server hands this worker nothing more. */
  readonly #fetches = new Set<{ close(): Promise<unknown> }>()
  readonly #jsm: import('@nats-io/jetstream').JetStreamManager
  #ackWait: number
  /** A lower ack_wait another worker announced, and until when it wins over a read from JetStream. */
  #noticed = { ms: Infinity, until: 0 }
  #refreshing: Promise<number> | null = null
  readonly #counts = new DeliveryCounts()

  private constructor(options: TaskConsumerOptions, consumer: import('@nats-io/jetstream').Consumer, jsm: import('@nats-io/jetstream').JetStreamManager, ackWait: number) {
    this.#options = options
    this.#consumer = consumer
    this.#jsm = jsm
    this.#ackWait = ackWait
  }

  /**
   * Creates the shared consumer when missing (or sets its ack_wait: last
   * writer wins), reads back the ack_wait it has, and opens it.
   */
  static async open(nc: NatsConnection, options: TaskConsumerOptions): Promise<TaskConsumer> {
    const { names } = options
    const { js } = await loadNats()
    const jsm = await js.jetstreamManager(nc)
    const ackWait = options.ackWait * 1_000_000
    // No max_deliver: workers fail a poison task themselves (deliveryLimit).
    const settings = { ack_wait: ackWait, max_deliver: -1, max_ack_pending: -1 }
    let info: import('@nats-io/jetstream').ConsumerInfo
    const current = await jsm.consumers.info(names.stream, names.consumer).catch(() => null)
    if (current !== null) {
      if ((current.config.ack_wait ?? 0) > ackWait) {
        // Lowered: the workers heartbeating at the old pace hear it before JetStream applies it.
        nc.publish(names.ackWaitSubject, encode({ v: NATS_PROTOCOL_VERSION, ms: options.ackWait } satisfies AckWaitNotice))
        await nc.flush()
        await new Promise((r) => setTimeout(r, LOWER_NOTICE_MS))
      }
      try {
        info = await jsm.consumers.update(names.stream, names.consumer, settings)
      } catch (error) {
        // Say so, and go on with the consumer as it is: the ack wait read back below is the one heartbeats follow.
        options.log(`cannot update the settings of consumer ${names.consumer} (ack_wait ${options.ackWait} ms, no max_deliver): ${(error as Error)?.message ?? error}`)
        info = current
      }
    } else {
      try {
        info = await jsm.consumers.add(names.stream, { durable_name: names.consumer, ack_policy: js.AckPolicy.Explicit, ...settings })
      } catch (error) {
        // A worker started at the same moment created it.
        info = await jsm.consumers.info(names.stream, names.consumer).catch(() => {
          throw new ClusterError(`Cannot create the consumer ${names.consumer}: ${(error as Error).message}`, { cause: error })
        })
      }
    }
    const consumer = await js.jetstream(nc).consumers.get(names.stream, names.consumer)
    return new TaskConsumer(options, consumer, jsm, ackWaitMs(info, options.ackWait))
  }

  /** The consumer's ack_wait in ms, as last read from JetStream (another worker may have set it). */
  get ackWait(): number {
    return this.#ackWait
  }

  /**
   * Reads the consumer's ack_wait again (another worker started since, or
   * an operator changed it). Resolves to the value, the last one known when
   * JetStream cannot be asked now (a server restarting).
   */
  refreshAckWait(): Promise<number> {
    // One read at a time: a slow JetStream API must not pile up reads.
    this.#refreshing ??= this.#readAckWait().finally(() => (this.#refreshing = null))
    return this.#refreshing
  }

  async #readAckWait(): Promise<number> {
    try {
      const info = await this.#jsm.consumers.info(this.#options.names.stream, this.#options.names.consumer)
      const ms = ackWaitMs(info, this.#ackWait)
      // A read made just before another worker's change must not undo its notice.
      this.#ackWait = performance.now() < this.#noticed.until ? Math.min(ms, this.#noticed.ms) : ms
    } catch {
      // Keep the last value: the next refresh asks again.
    }
    return this.#ackWait
  }

  /** Another worker announced it lowers ack_wait to `ms`: assume it now, before JetStream says so. True when that is lower than what this worker knew. */
  lowered(ms: number): boolean {
    if (!Number.isFinite(ms) || ms <= 0 || ms >= this.#ackWait) return false
    this.#ackWait = ms
    this.#noticed = { ms, until: performance.now() + NOTICE_HOLD_MS }
    return true
  }

  /** Messages asked for and not received yet (for logs). */
  get requested(): number {
    return this.#requested
  }

  /** Asks for as many messages as the worker may hold beyond those it holds or asked for. */
  pull(): void {
    if (!this.#running) return
    const want = this.#options.prefetch - this.#options.held() - this.#requested
    if (want <= 0) return
    this.#requested += want
    void (async () => {
      let received = 0
      try {
        const expires = Math.min(PULL_EXPIRES_MAX_MS, Math.max(PULL_EXPIRES_MIN_MS, this.#ackWait))
        const messages = await this.#consumer.fetch({ max_messages: want, expires })
        this.#fetches.add(messages)
        try {
          for await (const msg of messages) {
            received++
            this.#requested--
            this.#receive(msg)
          }
        } finally {
          this.#fetches.delete(messages)
        }
      } catch (error) {
        this.#options.log(`fetch failed: ${(error as Error)?.message ?? error}`)
        await new Promise((r) => setTimeout(r, 500))
      } finally {
        this.#requested -= want - received
      }
      this.pull()
    })()
  }

  /**
   * Asks for no more messages, and withdraws the pulls still waiting: a
   * message the worker gives back at stop would otherwise go to its own
   * waiting pull again and sit there until the ack wait.
   */
  stop(): void {
    this.#running = false
    for (const fetch of this.#fetches) void fetch.close().catch(() => {})
  }

  #receive(msg: JsMsg): void {
    if (this.#options.trace) this.#options.log(`message seq ${msg.seq} delivery ${msg.info.deliveryCount}`)
    const receipt = this.#counts.receive(msg)
    if ('letBe' in receipt) {
      // Neither run nor answered: the delivery held or finished here answers for the message.
      this.#options.log(
        `JetStream delivered task message seq ${msg.seq} again as delivery ${msg.info.deliveryCount} after delivery ${receipt.repeatOf}, which this worker holds or finished: ` +
          'the repeat is left alone (nats-server before 2.10.14 repeats deliveries)',
      )
      return
    }
    const delivery = receipt.delivery
    if (receipt.repeatOf !== undefined) {
      this.#options.log(
        `JetStream delivered task message seq ${msg.seq} again as delivery ${msg.info.deliveryCount} after delivery ${receipt.repeatOf}: ` +
          `counted as delivery ${receipt.count} (nats-server before 2.10.14 repeats deliveries)`,
      )
    }
    if (!this.#running) {
      // Arrived while the pulls were withdrawn: straight back, for another worker.
      delivery.nak()
      return
    }
    let message: TaskMessage
    try {
      message = decode<TaskMessage>(msg.data)
    } catch (error) {
      this.#options.log(`dropped an unreadable task message: ${(error as Error).message}`)
      delivery.term('unreadable')
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION || !Array.isArray(message.q)) {
      this.#options.log(`dropped a task message of protocol v${String(message.v)} (this worker speaks v${NATS_PROTOCOL_VERSION})`)
      delivery.term('protocol version')
      return
    }
    this.#options.onMessage(delivery, message)
  }
}

/** The ack_wait of a consumer's info in ms (`fallback` when it has none). */
function ackWaitMs(info: import('@nats-io/jetstream').ConsumerInfo, fallback: number): number {
  const ns = info.config.ack_wait
  return typeof ns === 'number' && ns > 0 ? Math.round(ns / 1_000_000) : fallback
}

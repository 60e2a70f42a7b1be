/**
 * The worker's side of the work-queue stream: the shared durable consumer
 * (created or updated at start) and the pull loop that keeps up to
 * `prefetch` task messages held. Messages are decoded here; one that cannot
 * be read or speaks another protocol version is terminated with a log line.
 */
import { ClusterError } from '../../errors.js'
import { loadNats, type NatsConnection } from './nats_client.js'
import { NATS_PROTOCOL_VERSION, decode, type Names, type TaskMessage } from './protocol.js'

type JsMsg = import('@nats-io/jetstream').JsMsg

export interface TaskConsumerOptions {
  names: Names
  /** Milliseconds without an in-progress signal before JetStream redelivers. */
  ackWait: number
  maxDeliver: number
  /** Task messages held at once. */
  prefetch: number
  /** How many messages the worker holds now. */
  held(): number
  /** A task message arrived. */
  onMessage(msg: JsMsg, message: TaskMessage): void
  log(line: string): void
  trace: boolean
}

export class TaskConsumer {
  readonly #options: TaskConsumerOptions
  readonly #consumer: import('@nats-io/jetstream').Consumer
  /** Messages asked for and not received yet. */
  #requested = 0
  #running = true

  private constructor(options: TaskConsumerOptions, consumer: import('@nats-io/jetstream').Consumer) {
    this.#options = options
    this.#consumer = consumer
  }

  /** Creates the shared consumer when missing (or updates its settings) and opens it. */
  static async open(nc: NatsConnection, options: TaskConsumerOptions): Promise<TaskConsumer> {
    const { names } = options
    const { js } = await loadNats()
    const jsm = await js.jetstreamManager(nc)
    const config = {
      durable_name: names.consumer,
      ack_policy: js.AckPolicy.Explicit,
      ack_wait: options.ackWait * 1_000_000,
      // One more than ours: the delivery past the limit reaches a worker, which fails it clearly.
      max_deliver: options.maxDeliver + 1,
      max_ack_pending: -1,
    }
    try {
      await jsm.consumers.info(names.stream, names.consumer)
      await jsm.consumers.update(names.stream, names.consumer, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: -1 })
    } catch {
      try {
        await jsm.consumers.add(names.stream, config)
      } catch (error) {
        // A worker started at the same moment created it.
        await jsm.consumers.info(names.stream, names.consumer).catch(() => {
          throw new ClusterError(`Cannot create the consumer ${names.consumer}: ${(error as Error).message}`, { cause: error })
        })
      }
    }
    return new TaskConsumer(options, await js.jetstream(nc).consumers.get(names.stream, names.consumer))
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
        const messages = await this.#consumer.fetch({ max_messages: want, expires: 10_000 })
        for await (const msg of messages) {
          received++
          this.#requested--
          this.#receive(msg)
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

  /** Asks for no more messages. */
  stop(): void {
    this.#running = false
  }

  #receive(msg: JsMsg): void {
    if (this.#options.trace) this.#options.log(`message seq ${msg.seq} delivery ${msg.info.deliveryCount}`)
    let message: TaskMessage
    try {
      message = decode<TaskMessage>(msg.data)
    } catch (error) {
      this.#options.log(`dropped an unreadable task message: ${(error as Error).message}`)
      msg.term('unreadable')
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION || !Array.isArray(message.q)) {
      this.#options.log(`dropped a task message of protocol v${String(message.v)} (this worker speaks v${NATS_PROTOCOL_VERSION})`)
      msg.term('protocol version')
      return
    }
    this.#options.onMessage(msg, message)
  }
}

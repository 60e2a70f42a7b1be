/**
 * NatsWorker: pulls tasks from the JetStream work-queue stream and runs them
 * in local worker threads. This class holds the task messages and wires
 * the parts, one concept per file:
 *
 *   task_consumer.ts ──message──▶ held (HeldMessage) ──▶ session_liveness.ts: caller there?
 *                                                          └──▶ running_tasks.ts (module_allowlist.ts, run_task.ts in a thread)
 *   ack once the caller confirmed every result ◀── result_outbox.ts ◀──────────────┘
 *   direct_delivery.ts ──a task taken directly while idle──▶ held, as above
 *
 * About 520 lines: the parts are small files, and what stays here is the one
 * set of held messages they all act on (delivery, heartbeat, loss, stop).
 *
 * Delivery is at least once. Every held message gets an in-progress signal
 * (`working()`) each quarter of the consumer's ack_wait (2 s by default), so
 * a long task is not redelivered while this worker lives; a worker that
 * dies or hangs stops sending them and the message goes to another worker
 * after ack_wait. The ack_wait is the shared consumer's, read back from
 * JetStream (task_consumer.ts: the last worker to start sets it), not this
 * worker's option. A task delivered more than max(`maxDeliver`, 1 + its
 * `retries`) times is a poison task (deliveryLimit): it fails with
 * ClusterError at the caller. A caller found gone has its tasks stopped and
 * dropped; a cancel broadcast stops a running task and drops one not
 * started yet. A task taken directly (direct_delivery.ts) is held the same
 * way, its heartbeats and give-backs told to its caller instead of JetStream.
 */
import { hostname } from 'node:os'
import { ClusterError, invalidArgType } from '../../errors.js'
import { cpuCount } from '../../cpu_count.js'
import { knownKeys, plainObject, positiveInteger, timeoutMs } from '../../internal/validate.js'
import { STATUS_ERROR } from '../../wire/messages.js'
import { serializeError } from '../../wire/remote_error.js'
import { CONNECTION_KEYS, checkConnectionOptions, connectionOptions, type NatsConnectionOptions } from './nats_options.js'
import { connectNats, ensureStream, type NatsConnection } from './nats_client.js'
import { NATS_PROTOCOL_VERSION, decode, names, type AckWaitNotice, type CancelMessage, type Names, type TaskMessage, type TaskUnit } from './protocol.js'
import type { HeldMessage } from './held_message.js'
import { ModuleAllowlist } from './module_allowlist.js'
import { TaskConsumer, deliveryLimit } from './task_consumer.js'
import { RunningTasks, unitLabel } from './running_tasks.js'
import { ResultOutbox } from './result_outbox.js'
import { DEFAULT_MAX_PAYLOAD_SIZE, ObjectPayloads } from './object_payload.js'
import { SessionLiveness } from './session_liveness.js'
import { DirectDelivery, DirectInbox } from './direct_delivery.js'
import { WorkerActivity } from './worker_activity.js'
import { repeatsDeliveries } from './delivery_counts.js'
import { WorkerStatus, multiprocVersion } from './worker_status.js'
import { WorkerMetrics, metricsOptions, type WorkerMetricsOptions } from './worker_metrics.js'

/** Options of a cluster worker. */
export interface NatsWorkerOptions extends NatsConnectionOptions {
  /** Modules tasks may name: file paths or URLs, directories (everything under them), package names. Required. */
  allow: string[]
  /** Where relative `allow` paths start. Default: the current directory. */
  root?: string
  /** Tasks run at once (worker threads). Default `cpuCount()`. */
  concurrency?: number
  /** Task messages held at once (running or about to). Default 2 × concurrency. */
  prefetch?: number
  /**
   * Milliseconds without an in-progress signal before JetStream gives a task
   * to another worker: how long a dead worker's tasks wait. Default 2000.
   * It is set on the consumer every worker shares, so the last worker to
   * start decides it for all; each worker heartbeats each quarter of the
   * consumer's actual value (see `ackWait` of the instance).
   */
  ackWait?: number
  /** Deliveries of a task before it is a poison task, at least (a task's `retries` raises it to 1 + retries). Default 5. */
  maxDeliver?: number
  /** How long a caller that does not answer pings (but has not clearly left) is waited for, in ms. Default 30000. */
  sessionTimeout?: number
  /** Node options of the worker threads. Default: this process's. */
  execArgv?: string[]
  /** Called with a line to log (default: none). */
  log?: (line: string) => void
  /** Milliseconds between two status records the worker publishes (`multiproc status`). Default 2000. */
  statusInterval?: number
  /** Serve Prometheus metrics on `http://host:port/metrics` (needs `prom-client` installed). Default: none. */
  metrics?: WorkerMetricsOptions
}

/** The default ack wait: a dead worker's tasks run elsewhere within about 2 s. */
export const DEFAULT_ACK_WAIT_MS = 2_000
/** Heartbeats per ack wait: three may be lost or late before JetStream redelivers. */
const BEATS_PER_ACK_WAIT = 4
/** How often the consumer's ack_wait is read again (another worker or an operator may change it). */
const ACK_WAIT_REFRESH_MS = 5_000

const OWN_KEYS = ['allow', 'root', 'concurrency', 'prefetch', 'ackWait', 'maxDeliver', 'sessionTimeout', 'execArgv', 'log', 'statusInterval', 'metrics'] as const
const TRACE = process.env.MULTIPROC_NATS_TRACE === '1'

/**
 * A cluster worker (what `multiproc worker` runs): pulls tasks from the
 * JetStream stream and runs them in local worker threads, importing only the
 * modules on its `allow` list.
 *
 * @throws TypeError / RangeError for a bad option (an empty `allow` list included)
 * @example
 * const worker = new NatsWorker({ servers: 'nats://127.0.0.1:4222', allow: ['/srv/app/tasks.js'] })
 * await worker.start()
 * process.once('SIGTERM', () => void worker.stop())
 */
export class NatsWorker {
  readonly #connection: NatsConnectionOptions
  readonly #names: Names
  readonly #allowlist: ModuleAllowlist
  readonly #concurrency: number
  readonly #prefetch: number
  readonly #ackWait: number
  readonly #maxDeliver: number
  readonly #sessionTimeout: number
  readonly #execArgv: string[] | undefined
  readonly #log: (line: string) => void
  /** How this worker names itself in logs: `nats worker <host>:<pid>`. */
  readonly label = `nats worker ${hostname()}:${process.pid}`
  #nc: NatsConnection | null = null
  #consumer: TaskConsumer | null = null
  #direct: DirectInbox | null = null
  #tasks: RunningTasks | null = null
  #running = false
  readonly #held = new Set<HeldMessage>()
  #heartbeat: NodeJS.Timeout | undefined
  #beatEvery = 0
  /** Heartbeats run: from start until the held messages are given up at stop. */
  #beating = false
  #refresh: NodeJS.Timeout | undefined
  readonly #liveness: SessionLiveness
  readonly #outbox: ResultOutbox
  readonly #payloads: ObjectPayloads
  readonly #maxPayloadSize: number
  #stopped: Promise<void> | null = null
  #idleWaiters: (() => void)[] = []
  // Status and metrics (worker_status.ts, worker_metrics.ts) read these counters; the task path only adds to them.
  readonly #activity = new WorkerActivity()
  readonly #statusInterval: number
  readonly #metricsOptions: Required<WorkerMetricsOptions> | undefined
  readonly #status: WorkerStatus
  #metrics: WorkerMetrics | null = null

  /**
   * @param options `allow` (required), `servers` and the auth options, `concurrency`
   *   (default `cpuCount()`), `prefetch`, `ackWait` (default 2000), `maxDeliver` (default 5), `sessionTimeout`, `root`,
   *   `maxPayloadSize` (largest task read and result sent, default 1 GiB; those over the server's max_payload go through the Object Store)
   * @throws TypeError / RangeError for a bad option
   * @example
   * const worker = new NatsWorker({ servers: 'nats://10.0.0.5:4222', allow: ['./tasks.js'] })
   * await worker.start()
   */
  constructor(options: NatsWorkerOptions) {
    const opts = plainObject('options', options)
    knownKeys('NatsWorker', opts, [...CONNECTION_KEYS, ...OWN_KEYS])
    checkConnectionOptions(opts)
    this.#connection = connectionOptions(opts)
    this.#names = names(this.#connection.prefix ?? 'multiproc', this.#connection.stream ?? 'MULTIPROC')
    if (!Array.isArray(opts.allow) || opts.allow.length === 0 || !opts.allow.every((a) => typeof a === 'string' && a !== '')) {
      throw invalidArgType('Expected `allow` to be a non-empty array of modules (paths, URLs, directories or package names): a worker runs only the modules it allows')
    }
    const root = opts.root === undefined ? process.cwd() : String(opts.root)
    this.#allowlist = new ModuleAllowlist(opts.allow as string[], root, this.label)
    this.#concurrency = opts.concurrency === undefined ? cpuCount() : positiveInteger('concurrency', opts.concurrency)
    this.#prefetch = opts.prefetch === undefined ? 2 * this.#concurrency : positiveInteger('prefetch', opts.prefetch)
    this.#ackWait = opts.ackWait === undefined ? DEFAULT_ACK_WAIT_MS : timeoutMs('ackWait', opts.ackWait, false)
    if (this.#ackWait < 100) throw new RangeError(`Expected \`ackWait\` to be at least 100 ms, got ${this.#ackWait}`)
    this.#maxDeliver = opts.maxDeliver === undefined ? 5 : positiveInteger('maxDeliver', opts.maxDeliver)
    this.#sessionTimeout = opts.sessionTimeout === undefined ? 30_000 : timeoutMs('sessionTimeout', opts.sessionTimeout, false)
    if (opts.execArgv !== undefined && (!Array.isArray(opts.execArgv) || !opts.execArgv.every((a) => typeof a === 'string'))) {
      throw invalidArgType('Expected `execArgv` to be an array of strings')
    }
    this.#execArgv = opts.execArgv as string[] | undefined
    this.#log = typeof opts.log === 'function' ? (opts.log as (line: string) => void) : () => {}
    this.#statusInterval = opts.statusInterval === undefined ? 2_000 : timeoutMs('statusInterval', opts.statusInterval, false)
    if (this.#statusInterval < 100) throw new RangeError(`Expected \`statusInterval\` to be at least 100 ms, got ${this.#statusInterval}`)
    this.#metricsOptions = opts.metrics === undefined ? undefined : metricsOptions(opts.metrics)
    this.#status = new WorkerStatus({
      prefix: this.#names.prefix,
      stream: this.#names.stream,
      activity: this.#activity,
      concurrency: this.#concurrency,
      prefetch: this.#prefetch,
      interval: this.#statusInterval,
      metrics: () => this.#metrics?.url,
    })
    this.#liveness = new SessionLiveness({
      request: (session, data, timeout) => this.#nc!.request(this.#names.sessionSubject(session), data, { timeout }),
      closed: () => this.#nc?.isClosed() ?? true,
      sessionTimeout: this.#sessionTimeout,
      onGone: (session) => this.#loseSession(session, true),
    })
    this.#maxPayloadSize = this.#connection.maxPayloadSize ?? DEFAULT_MAX_PAYLOAD_SIZE
    this.#payloads = new ObjectPayloads(() => this.#nc!, this.#names.payloadBucket)
    this.#outbox = new ResultOutbox({
      connection: () => this.#nc!,
      sessionSubject: (session) => this.#names.sessionSubject(session),
      label: this.label,
      liveness: this.#liveness,
      onFinished: (held, id) => this.#finishTask(held, id),
      onLost: (session, gone) => this.#loseSession(session, gone),
      payloads: this.#payloads,
      maxPayloadSize: this.#maxPayloadSize,
      log: (line) => this.#log(line),
      trace: TRACE,
    })
  }

  /** Tasks run at once. */
  get concurrency(): number {
    return this.#concurrency
  }

  /** Tasks finished since start (for logs and tests). */
  get completed(): number {
    return this.#tasks?.completed ?? 0
  }

  /** The URL of the Prometheus endpoint while it serves (the `metrics` option). */
  get metricsUrl(): string | undefined {
    return this.#metrics?.url
  }

  /**
   * The shared consumer's ack_wait in ms, as this worker last read it from
   * JetStream (the last worker to start set it); its own `ackWait` option
   * until it started.
   */
  get ackWait(): number {
    return this.#consumer?.ackWait ?? this.#ackWait
  }

  /** Milliseconds between two heartbeats: a quarter of `ackWait` (0 until started). */
  get heartbeatInterval(): number {
    return this.#beatEvery
  }

  /** Whether a task may name `module` (its URL or specifier). */
  allows(module: string): boolean {
    return this.#allowlist.allows(module)
  }

  /** Connects, creates the stream and the shared consumer when missing, and starts pulling tasks. */
  async start(): Promise<void> {
    if (this.#running) return
    await this.#startMetrics()
    const nc = await connectNats(this.#connection, this.label).catch(async (error: unknown) => {
      await this.#metrics?.close()
      throw error
    })
    this.#nc = nc
    try {
      await ensureStream(nc, this.#names.stream, this.#names.taskWildcard)
      this.#consumer = await TaskConsumer.open(nc, {
        names: this.#names,
        ackWait: this.#ackWait,
        prefetch: this.#prefetch,
        held: () => this.#held.size,
        onMessage: (msg, message) => this.#onTaskMessage(msg, message),
        log: (line) => this.#log(line),
        trace: TRACE,
      })
      nc.subscribe(this.#names.cancelSubject, { callback: (error, msg) => (error === null ? this.#onCancel(msg.data) : undefined) })
      nc.subscribe(this.#names.ackWaitSubject, { callback: (error, msg) => (error === null ? this.#onAckWaitNotice(msg.data) : undefined) })
      await nc.flush()
    } catch (error) {
      await nc.close().catch(() => {})
      await this.#metrics?.close()
      throw error instanceof ClusterError ? error : new ClusterError(`Cannot start the worker: ${(error as Error)?.message ?? error}`, { cause: error })
    }
    this.#tasks = new RunningTasks({
      concurrency: this.#concurrency,
      execArgv: this.#execArgv,
      allowlist: this.#allowlist,
      onResult: (held, id, status, value, ms) => {
        this.#activity.finished(status, ms)
        this.#outbox.add(held, id, status, value, ms)
      },
      onDropped: (held, id) => {
        this.#activity.dropped++
        this.#finishTask(held, id)
      },
      onProgress: (held, id, pairs) => this.#outbox.progress(held, id, pairs),
      log: (line) => this.#log(line),
      trace: TRACE,
    })
    await this.#tasks.start()
    this.#running = true
    this.#beating = true
    this.#pace()
    this.#refresh = setInterval(() => void this.#consumer?.refreshAckWait().then(() => this.#pace()), ACK_WAIT_REFRESH_MS)
    this.#consumer.pull()
    this.#direct = new DirectInbox({
      nc,
      names: this.#names,
      idle: () => this.#running && this.#held.size < this.#concurrency,
      ackWait: () => this.ackWait,
      onMessage: (delivery, message) => {
        this.#activity.direct++
        this.#onTaskMessage(delivery, message)
      },
    })
    this.#status.start(nc)
    const version = nc.info?.version
    if (version !== undefined && repeatsDeliveries(version)) {
      this.#log(
        `${this.label}: nats-server ${version} can hand a task message out again as delivery 1 after a redelivery found only gone workers (fixed in nats-server 2.10.14): ` +
          'such a task may run past its poison limit on a worker that never saw it',
      )
    }
    const own = this.#consumer.ackWait === this.#ackWait ? '' : ` (set by another worker; this one asked for ${this.#ackWait} ms)`
    this.#log(`${this.label} ready: ${this.#concurrency} threads, stream ${this.#names.stream}, ack wait ${this.#consumer.ackWait} ms${own}`)
  }

  /**
   * Stops taking tasks, lets the held ones finish (up to `graceMs`), then
   * closes. Tasks not finished by then are left to JetStream, which
   * redelivers them to another worker.
   */
  stop(graceMs = 30_000): Promise<void> {
    this.#stopped ??= (async () => {
      this.#running = false
      this.#status.stopping()
      this.#consumer?.stop()
      this.#direct?.close()
      if (this.#held.size > 0) {
        await Promise.race([new Promise<void>((r) => this.#idleWaiters.push(r)), new Promise((r) => setTimeout(r, graceMs).unref())])
      }
      this.#beating = false
      clearInterval(this.#heartbeat)
      clearInterval(this.#refresh)
      for (const held of this.#held) if (!held.done) held.msg.nak()
      this.#status.stop()
      await this.#nc?.drain().catch(() => {})
      await this.#tasks?.terminate()
      await this.#metrics?.close()
    })()
    return this.#stopped
  }

  /** Resolves when the connection closes for good. */
  async closed(): Promise<void> {
    await this.#nc?.closed()
  }

  #onTaskMessage(msg: HeldMessage['msg'], message: TaskMessage): void {
    const held: HeldMessage = { msg, session: message.s, open: new Set(message.q.map((u) => u.id)), controllers: new Map(), dead: false, done: false }
    if (msg instanceof DirectDelivery) msg.bind(held)
    this.#held.add(held)
    // A task that went directly to a worker before counts that delivery too (TaskUnit.d).
    const delivered = (unit: TaskUnit): number => msg.info.deliveryCount + (unit.d ?? 0)
    this.#activity.received(Math.max(...message.q.map(delivered), 1))
    if (this.#liveness.isGone(message.s)) {
      this.#dropStored(message)
      this.#loseHeld(held, true)
      return
    }
    let units = message.q
    if (units.some((unit) => delivered(unit) > this.#maxDeliver)) {
      // Past the worker's limit: the tasks whose retries do not allow one more run are poison.
      units = []
      for (const unit of message.q) {
        const deliveries = delivered(unit)
        const limit = deliveryLimit(this.#maxDeliver, unit)
        if (deliveries <= limit) {
          units.push(unit)
          continue
        }
        const error = new ClusterError(
          `Task ${unitLabel(unit)} was delivered ${deliveries} times and never finished (every worker that took it died or hung; ` +
            `the limit is the larger of the worker's --max-deliver ${this.#maxDeliver} and 1 + the task's retries ${unit.r}): it is treated as a poison task and dropped`,
        )
        this.#activity.started++
        this.#activity.finished(STATUS_ERROR, -1)
        this.#outbox.add(held, unit.id, STATUS_ERROR, serializeError(error), -1)
      }
      if (units.length === 0) return
    }
    const run = (): void => {
      if (!held.dead) {
        this.#activity.started += units.length
        for (const unit of units) if (unit.t !== undefined) this.#activity.retried++
      }
      if (units[0]?.o === undefined) this.#tasks!.run(held, units)
      else this.#runStored(held, units[0])
    }
    // A caller that sent a task directly is there (it just sent it): no ping before it runs.
    if (msg instanceof DirectDelivery) {
      this.#liveness.answered(message.s)
      run()
      return
    }
    void this.#liveness.check(message.s).then((alive) => {
      if (alive) return run()
      this.#dropStored(message)
      this.#loseSession(message.s, true)
    })
  }

  /** The caller of `message` is gone, so nobody will settle its tasks: their objects go now, not at the bucket's max_age. */
  #dropStored(message: TaskMessage): void {
    for (const unit of message.q) if (unit.o !== undefined) this.#payloads.delete(unit.o)
  }

  /** Runs a task that travelled as an object (too large for a message): read first, then run like any. */
  #runStored(held: HeldMessage, stub: TaskUnit): void {
    // Under the task's id, so a cancel or a lost caller stops the read as it would stop the task.
    const controller = new AbortController()
    held.controllers.set(stub.id, controller)
    this.#payloads.task(held.session, stub, unitLabel(stub), this.#maxPayloadSize, controller.signal).then(
      (unit) => {
        held.controllers.delete(stub.id)
        this.#tasks!.run(held, [unit])
      },
      (error: unknown) => {
        held.controllers.delete(stub.id)
        if (held.dead) return
        if (controller.signal.aborted) {
          this.#activity.dropped++
          this.#finishTask(held, stub.id)
          return
        }
        this.#activity.finished(STATUS_ERROR, -1)
        this.#outbox.add(held, stub.id, STATUS_ERROR, serializeError(error), -1)
      },
    )
  }

  /** Task `id` of `held` needs nothing more: once all of its tasks do, the message is acked (or terminated, its caller gone). */
  #finishTask(held: HeldMessage, id: string): void {
    if (TRACE) this.#log(`finish ${held.session}/${id} open=${held.open.has(id)} left=${held.open.size} dead=${held.dead}`)
    if (!held.open.delete(id) || held.open.size > 0 || held.done) return
    held.done = true
    if (held.dead) held.msg.term('caller gone')
    else held.msg.ack()
    this.#release(held)
  }

  /** `held` is done: room for another message. */
  #release(held: HeldMessage): void {
    this.#held.delete(held)
    if (this.#held.size === 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
    this.#consumer?.pull()
  }

  /** The caller of `session` is gone (its tasks are stopped and dropped) or unreachable (they go back to the stream). */
  #loseSession(session: string, gone: boolean): void {
    if (TRACE) this.#log(`session ${session} lost (gone=${gone})`)
    this.#liveness.forget(session, gone)
    this.#outbox.drop(session)
    for (const held of [...this.#held]) if (held.session === session) this.#loseHeld(held, gone)
  }

  #loseHeld(held: HeldMessage, gone: boolean): void {
    if (held.done) return
    held.dead = true
    for (const controller of held.controllers.values()) controller.abort()
    if (!gone) {
      // Not clearly gone: leave the tasks to JetStream (redelivered later), rather than drop them.
      held.done = true
      held.msg.nak(1_000)
      this.#release(held)
      return
    }
    for (const id of [...held.open]) this.#finishTask(held, id)
  }

  #onCancel(data: Uint8Array): void {
    let message: CancelMessage
    try {
      message = decode<CancelMessage>(data)
    } catch {
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION) return
    if (message.all) this.#loseSession(message.s, true)
    else this.#tasks?.cancel(message.s, message.ids, this.#held)
  }

  /**
   * Heartbeats each quarter of the consumer's ack_wait: (re)arms the timer
   * when that changed, and beats at once when it got shorter (the held
   * messages' last signal may already be older than the new ack_wait).
   */
  #pace(): void {
    if (!this.#beating || this.#consumer === null) return
    const every = Math.max(25, Math.floor(this.#consumer.ackWait / BEATS_PER_ACK_WAIT))
    if (every === this.#beatEvery) return
    const shorter = this.#beatEvery > 0 && every < this.#beatEvery
    if (this.#beatEvery > 0) this.#log(`${this.label}: the consumer's ack wait is now ${this.#consumer.ackWait} ms; heartbeat every ${every} ms`)
    this.#beatEvery = every
    clearInterval(this.#heartbeat)
    this.#heartbeat = setInterval(() => this.#beat(), every)
    if (shorter) this.#beat()
  }

  /** Another worker is about to lower the consumer's ack_wait. */
  #onAckWaitNotice(data: Uint8Array): void {
    let notice: AckWaitNotice
    try {
      notice = decode<AckWaitNotice>(data)
    } catch {
      return
    }
    if (notice.v !== NATS_PROTOCOL_VERSION || typeof notice.ms !== 'number') return
    if (this.#consumer?.lowered(notice.ms)) this.#pace()
  }

  /** In-progress signals for every held message, and pings for the callers they belong to. */
  #beat(): void {
    if (TRACE && this.#held.size > 0) this.#log(`beat held=${this.#held.size} requested=${this.#consumer?.requested} local=${JSON.stringify(this.#tasks?.stats())}`)
    this.#activity.beat()
    const sessions = new Set<string>()
    for (const held of this.#held) {
      if (held.done || held.dead) continue
      held.msg.working()
      sessions.add(held.session)
    }
    this.#liveness.pingAll(sessions)
  }

  async #startMetrics(): Promise<void> {
    if (this.#metricsOptions === undefined || this.#metrics !== null) return
    this.#metrics = await WorkerMetrics.start(this.#metricsOptions, this.#activity, {
      id: this.#status.id,
      host: hostname(),
      pid: process.pid,
      version: multiprocVersion(),
      stream: this.#names.stream,
      concurrency: this.#concurrency,
    })
    this.#log(`${this.label} metrics on ${this.#metrics.url}`)
  }
}

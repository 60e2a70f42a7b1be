/**
 * ClusterScheduler: gets tasks to the workers of a NATS JetStream cluster
 * and their outcomes back. The Futures belong to the executor above
 * (futures/task_executor.ts), as on a local backend.
 *
 *   queue ─▶ pump() ─▶ batch ─▶ JetStream publish {prefix}.task.{session} ─▶ work-queue stream
 *     (at most maxWorkers tasks in flight)                                          │ pull
 *   settle ◀── results request on {prefix}.s.{session}, by task id ◀── NatsWorker (any machine)
 *
 * A task leaves the queue (and becomes RUNNING) when it is published; until
 * then it can be cancelled like any queued task. Results come back as
 * requests that this scheduler answers; the worker acks the task only after
 * that answer, so a result is never lost, and a redelivered task that
 * reports twice is de-duplicated here by its id: each Future settles once.
 * A task stopped by its timeout, its signal or `cancel()` is cancelled
 * where it runs by a broadcast: a worker drops it if it has not started,
 * stops it if it runs alone on a thread, and drops the result of one that
 * runs inside a pack (packs are bursts of short tasks) so that no other
 * task of the pack is lost. Workers ping the session of every task they hold; once the
 * executor is gone (shut down, crashed, killed) the pings find no responder
 * and its tasks are dropped.
 */
import { hostname } from 'node:os'
import { ClusterError, SerializationError } from '../../errors.js'
import type { Capabilities } from '../capabilities.js'
import { CLUSTER_CAPABILITIES } from './capabilities.js'
import { takeBatch, type Scheduler, type SchedulerHost, type WorkerStats } from '../../futures/scheduler.js'
import { WorkerActivity } from '../../futures/stats.js'
import type { TaskFuture } from '../../futures/task_future.js'
import { libraryModuleId } from '../../wire/library_module.js'
import { FLAG_FLAT, FLAG_PROGRESS, FLAG_SHARED, STATUS_OK } from '../../wire/messages.js'
import type { NatsConnectionOptions } from './nats_options.js'
import { connectNats, ensureStream, loadNats, type NatsConnection } from './nats_client.js'
import { NATS_PROTOCOL_VERSION, decode, encode, type CancelMessage, type Names, type TaskMessage, type TaskUnit, type ToCaller } from './protocol.js'

/** Tasks per JetStream message at most, and the backlog (ms of measured task time) one message may carry. */
const MAX_BATCH = 256
const BACKLOG_MS = 2
/** Room left in a message for headers and framing. */
const PAYLOAD_SLACK = 4096

/** The open connection of a caller: core NATS, its JetStream client, and the server's max payload. */
interface CallerConnection {
  nc: NatsConnection
  js: import('@nats-io/jetstream').JetStreamClient
  maxPayload: number
}

/** What the scheduler needs to reach the cluster (checked by NatsExecutor). */
export interface ClusterSchedulerOptions {
  connection: NatsConnectionOptions
  names: Names
  session: string
  maxInFlight: number
  publishTimeout: number
}

export class ClusterScheduler implements Scheduler {
  readonly name = 'nats'
  readonly capabilities: Capabilities = CLUSTER_CAPABILITIES
  /** Its workers run as many tasks at once as they were started with (`multiproc worker --concurrency`): none of the caller's business. */
  readonly concurrency = 1
  /** Ids of tasks stopped in this turn: one broadcast for all (a map that stops cancels its whole window). */
  #stopping: string[] = []
  readonly #options: ClusterSchedulerOptions
  #host!: SchedulerHost
  /** Tasks published (or about to be, once connected) and not settled, by id. */
  readonly #inflight = new Map<string, TaskFuture>()
  /** Workers that sent results, by label, with what they did for this executor. */
  readonly #workers = new Map<string, WorkerActivity>()
  #conn: CallerConnection | null = null
  #connecting: Promise<CallerConnection> | null = null
  #nextId = 0
  #avgTaskMs = NaN

  constructor(options: ClusterSchedulerOptions) {
    this.#options = options
  }

  get maxWorkers(): number {
    return this.#options.maxInFlight
  }

  /** Whether the NATS connection is up. */
  get connected(): boolean {
    return this.#conn !== null
  }

  attach(host: SchedulerHost): void {
    this.#host = host
  }

  prepare(): void {}

  dispatchNow(): boolean {
    return false
  }

  describeStop(): string {
    return 'it was stopped on the cluster'
  }

  stopRunning(f: TaskFuture): void {
    if (this.#stopping.length === 0)
      queueMicrotask(() => {
        const ids = this.#stopping
        this.#stopping = []
        this.#broadcastCancel(ids, false)
      })
    this.#stopping.push(f.placed as string)
  }

  running(): Iterable<TaskFuture> {
    return this.#inflight.values()
  }

  runningCount(): number {
    return this.#inflight.size
  }

  workerCount(): number {
    return this.#workers.size
  }

  workerStats(): WorkerStats[] {
    return [...this.#workers].map(([label, activity]) => activity.report(label))
  }

  taskDone(f: TaskFuture): void {
    if (f.placed !== null && this.#inflight.delete(f.placed as string) && this.#host.queue.length > 0) this.#host.schedulePump()
  }

  idle(): void {
    // Shut down and nothing left to do: let go of the connection (shutdown({ wait: false }) too).
    if (this.#host.state === 'SHUTDOWN') void this.close()
  }

  async close(): Promise<void> {
    const connecting = this.#connecting
    if (connecting === null) return
    let conn: CallerConnection
    try {
      conn = await connecting
    } catch {
      return
    }
    if (!conn.nc.isClosed()) await conn.nc.close().catch(() => {})
  }

  async terminate(): Promise<void> {
    const conn = this.#conn
    if (conn !== null) {
      this.#broadcastCancel([], true)
      try {
        const { js } = await loadNats()
        const jsm = await js.jetstreamManager(conn.nc)
        await jsm.streams.purge(this.#options.names.stream, { filter: this.#options.names.taskSubject(this.#options.session) })
      } catch {
        // the workers drop this session's tasks anyway once it is gone
      }
    }
    await this.close()
  }

  broken(): void {
    void this.close()
  }

  // ── dispatch ──

  #batchLimit(): number {
    if (Number.isNaN(this.#avgTaskMs)) return 1
    if (this.#avgTaskMs <= 0) return MAX_BATCH
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(BACKLOG_MS / this.#avgTaskMs)))
  }

  pump(): void {
    const queue = this.#host.queue
    if (queue.length === 0) return
    // Tasks are dispatched (RUNNING) even before the connection is up: they
    // count against maxInFlight and are published once it is.
    const conn = this.#conn ?? this.#connect()
    const limit = this.#batchLimit()
    const max = this.#options.maxInFlight
    while (queue.length > 0 && this.#inflight.size < max) {
      const room = Math.min(limit, max - this.#inflight.size)
      // A task with a timeout or a signal travels alone (it may have to be stopped on its
      // own); the others are packed, and a worker runs a pack on one thread.
      const batch = takeBatch(queue, room, 'alone')
      if (batch.length === 0) break
      this.#publish(conn, batch)
    }
  }

  /** Gives each task its id (once: a task published again keeps it) and counts it in flight. */
  #track(batch: TaskFuture[]): void {
    if (batch[0]!.placed === null) this.#host.stats.recordWaits(batch, performance.now())
    for (const f of batch) {
      if (f.placed === null) f.placed = (this.#nextId++).toString(36)
      this.#inflight.set(f.placed as string, f)
    }
  }

  #publish(conn: CallerConnection | Promise<CallerConnection>, batch: TaskFuture[]): void {
    if (conn instanceof Promise) {
      this.#track(batch)
      // A failed connection breaks the executor, which fails these tasks.
      conn.then(
        (ready) => {
          const live = batch.filter((f) => !f.done())
          for (const f of live) this.#inflight.delete(f.placed as string)
          if (live.length > 0) this.#publish(ready, live)
        },
        () => {},
      )
      return
    }
    const failAlone = (reason: string, cause?: unknown): void => {
      if (batch.length > 1) {
        for (const f of batch) this.#publish(conn, [f])
        return
      }
      const f = batch[0]!
      f.setException(new SerializationError(`Cannot send task ${f.task.label} to the cluster: ${reason}`, { argIndex: -1, path: 'args', reason }, cause !== undefined ? { cause } : undefined))
    }
    this.#track(batch)
    const untrack = (): void => {
      for (const f of batch) this.#inflight.delete(f.placed as string)
    }
    const units = batch.map((f): TaskUnit => ({
      id: f.placed as string,
      k: f.kind | (f.shared ? FLAG_SHARED : 0) | (f.flat ? FLAG_FLAT : 0) | (f.onProgress !== undefined ? FLAG_PROGRESS : 0),
      m: libraryModuleId(f.task.module),
      n: f.task.name,
      a: f.args!,
      r: f.retries,
    }))
    let data: Uint8Array
    try {
      data = encode({ v: NATS_PROTOCOL_VERSION, s: this.#options.session, q: units } satisfies TaskMessage)
    } catch (error) {
      untrack()
      failAlone((error as Error).message, error)
      return
    }
    if (data.length > conn.maxPayload - PAYLOAD_SLACK) {
      untrack()
      failAlone(
        `the task message is ${data.length} bytes, more than the server's max_payload (${conn.maxPayload} bytes) allows; pass a reference to the data (a file, an object store key) instead`,
      )
      return
    }
    void this.#publishWithRetry(conn, data, `${this.#options.session}.${units[0]!.id}`).catch((error: unknown) => {
      const cause = new ClusterError(`Cannot enqueue tasks on stream ${this.#options.names.stream}: ${(error as Error)?.message ?? error}`, { cause: error })
      for (const f of batch) if (!f.done()) f.setException(cause)
    })
  }

  /** Publishes with the message id as de-duplication key, retrying through a reconnect until publishTimeout. */
  async #publishWithRetry(conn: CallerConnection, data: Uint8Array, msgID: string): Promise<void> {
    const { names, session, publishTimeout } = this.#options
    const deadline = performance.now() + publishTimeout
    for (let attempt = 0; ; attempt++) {
      try {
        await conn.js.publish(names.taskSubject(session), data, { msgID, timeout: Math.min(5_000, publishTimeout) })
        return
      } catch (error) {
        if (performance.now() >= deadline || conn.nc.isClosed()) throw error
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)))
      }
    }
  }

  #broadcastCancel(ids: string[], all: boolean): void {
    const conn = this.#conn
    if (conn === null) return
    const message: CancelMessage = { v: NATS_PROTOCOL_VERSION, s: this.#options.session, ids, all }
    try {
      conn.nc.publish(this.#options.names.cancelSubject, encode(message))
    } catch {
      // disconnected for good: the workers' pings will find this session gone
    }
  }

  // ── connection and results ──

  #connect(): Promise<CallerConnection> {
    if (this.#connecting !== null) return this.#connecting
    const { connection, names, session } = this.#options
    this.#connecting = (async () => {
      const nc = await connectNats(connection, `multiproc caller ${hostname()}:${process.pid}`)
      try {
        await ensureStream(nc, names.stream, names.taskWildcard)
        const { js } = await loadNats()
        nc.subscribe(names.sessionSubject(session), { callback: (error, msg) => (error === null ? this.#onSessionMessage(msg) : undefined) })
        await nc.flush()
        return { nc, js: js.jetstream(nc), maxPayload: nc.info?.max_payload ?? 1024 * 1024 }
      } catch (error) {
        await nc.close().catch(() => {})
        throw error
      }
    })()
    this.#connecting.then(
      (conn) => {
        this.#conn = conn
        const host = this.#host
        void conn.nc.closed().then((error) => {
          if (host.pending > 0 && host.state !== 'BROKEN') host.break(new ClusterError(`The NATS connection closed${error ? `: ${(error as Error).message}` : ''}`, { cause: error }))
        })
        if (host.state === 'SHUTDOWN' && host.pending === 0) void this.close()
        else if (host.state !== 'BROKEN') this.pump()
      },
      (error: unknown) => this.#host.break(error instanceof ClusterError ? error : new ClusterError(String((error as Error)?.message ?? error), { cause: error })),
    )
    return this.#connecting
  }

  #onSessionMessage(msg: import('@nats-io/transport-node').Msg): void {
    let message: ToCaller
    try {
      message = decode<ToCaller>(msg.data)
    } catch {
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION) return
    if (message.t === 'progress') {
      // Unknown or settled (redelivered, timed out, cancelled): dropped there.
      this.#inflight.get(message.id)?.reportProgress(message.p)
      return
    }
    if (message.t === 'results') {
      const r = message.r
      const host = this.#host
      let activity = this.#workers.get(message.w)
      if (activity === undefined) {
        this.#workers.set(message.w, (activity = new WorkerActivity()))
        host.stats.workersStarted++
      }
      for (let i = 0; i < r.length; i += 4) {
        const f = this.#inflight.get(r[i] as string)
        const ms = r[i + 3] as number
        if (typeof ms === 'number' && ms >= 0) {
          this.#avgTaskMs = Number.isNaN(this.#avgTaskMs) ? ms : this.#avgTaskMs * 0.7 + ms * 0.3
          host.stats.run.record(ms)
          activity.busyMs += ms
        }
        activity.tasks++
        if (r[i + 1] !== STATUS_OK) activity.failed++
        // A result for a task that already settled (redelivered, timed out, cancelled) is dropped.
        if (f === undefined || f.done()) continue
        this.#inflight.delete(f.placed as string)
        host.settle(f, r[i + 1] as number, r[i + 2], message.w)
      }
    }
    // The answer confirms the results: only now does the worker ack the task message.
    if (msg.reply) msg.respond()
    if (this.#host.queue.length > 0) this.#host.schedulePump()
  }
}

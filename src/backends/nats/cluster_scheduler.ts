/**
 * ClusterScheduler: gets tasks to the workers of a NATS JetStream cluster
 * and their outcomes back. The Futures belong to the executor above
 * (futures/task_executor.ts), as on a local backend. Stored payloads live in
 * object_payload.ts; the rest is one file of about 510 lines because
 * publishing, results, cancel and the measured sizes all work on the same
 * in-flight map and connection.
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
 *
 * A task too large for one message is stored in the Object Store and its
 * message names the object (object_payload.ts); the object is deleted once
 * the task settled. A result that comes back stored is read, then deleted;
 * the task stays in flight until it has been read.
 */
import { hostname } from 'node:os'
import { ClusterError, SerializationError } from '../../errors.js'
import type { Capabilities } from '../capabilities.js'
import { CLUSTER_CAPABILITIES } from './capabilities.js'
import { takeBatch, type AutoChunk, type Scheduler, type SchedulerHost, type WorkerStats } from '../../futures/scheduler.js'
import { WorkerActivity } from '../../futures/stats.js'
import type { TaskFuture } from '../../futures/task_future.js'
import { libraryModuleId } from '../../wire/library_module.js'
import { FLAG_FLAT, FLAG_PROGRESS, FLAG_SHARED, KIND_CHUNK, STATUS_OK } from '../../wire/messages.js'
import type { NatsConnectionOptions } from './nats_options.js'
import { connectNats, ensureStream, loadNats, retrying, type NatsConnection } from './nats_client.js'
import { CALLER_LIMIT, ObjectPayloads, payloadTooLarge } from './object_payload.js'
import { DirectSends } from './direct_delivery.js'
import {
  NATS_PROTOCOL_VERSION,
  STATUS_STORED,
  decode,
  encode,
  messageRoom,
  type CancelMessage,
  type Names,
  type TaskMessage,
  type TaskUnit,
  type ToCaller,
} from './protocol.js'

/** Tasks per JetStream message at most, and the backlog (ms of measured task time) one message may carry. */
const MAX_BATCH = 256
const BACKLOG_MS = 2

/**
 * map's automatic chunks on the cluster: a chunk should run TARGET_PER_TRIP
 * times the fixed cost of a message's round trip (publish, pull, result,
 * confirmation; measured), so that cost stays about a ninth of the time,
 * within [MIN, MAX] ms; and fill at most half a message, so that it travels
 * as one message rather than through the Object Store.
 */
const TARGET_PER_TRIP = 8
const MIN_CHUNK_MS = 2
const MAX_CHUNK_MS = 50
const MAX_CHUNK_ITEMS = 65_536
/** Round trips over which the fastest is kept as the fixed cost (a queue behind a busy worker is not part of it). */
const TRIP_WINDOW = 64

/** The open connection of a caller: core NATS, its JetStream client, what one message may carry, and the payload objects. */
interface CallerConnection {
  nc: NatsConnection
  js: import('@nats-io/jetstream').JetStreamClient
  room: number
  payloads: ObjectPayloads
}

/** What the scheduler needs to reach the cluster (checked by NatsExecutor). */
export interface ClusterSchedulerOptions {
  connection: NatsConnectionOptions
  names: Names
  session: string
  maxInFlight: number
  publishTimeout: number
  /** The largest encoded task message sent, and result accepted, in bytes. */
  maxPayloadSize: number
  /** A task sent when nothing else is in flight tries an idle worker directly first (direct_delivery.ts). */
  direct: boolean
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
  /** The fastest round trip less the worker's time in the current and the last window, ms (NaN: none yet). */
  #tripMs = NaN
  #windowTripMs = Infinity
  #windowTrips = 0
  /** Decayed sums of the encoded bytes and the items of the map chunks published: their ratio is the bytes per item. */
  #chunkBytes = 0
  #chunkItems = 0
  /** Objects holding the messages of tasks in flight, by task id: deleted once the task settled. */
  readonly #storedTasks = new Map<string, string>()
  /** Stored results being read, by task id: the object's name. */
  readonly #reading = new Map<string, string>()
  /** Tasks sent directly to an idle worker, watched until they settle (null: the option is off). */
  readonly #direct: DirectSends | null

  constructor(options: ClusterSchedulerOptions) {
    this.#options = options
    this.#direct = options.direct ? new DirectSends({ nc: () => this.#conn!.nc, names: options.names, session: options.session }) : null
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

  /**
   * map's automatic chunks here: about TARGET_PER_TRIP measured round trips
   * of work each, and no more items than fill half a message.
   */
  autoChunk(): AutoChunk {
    const trip = Number.isNaN(this.#tripMs) ? 1 : this.#tripMs
    const targetMs = Math.min(MAX_CHUNK_MS, Math.max(MIN_CHUNK_MS, TARGET_PER_TRIP * trip))
    const room = this.#conn?.room ?? 1 << 20
    const maxItems = this.#chunkItems === 0 ? MAX_CHUNK_ITEMS : Math.max(1, Math.min(MAX_CHUNK_ITEMS, Math.floor((room / 2) * (this.#chunkItems / this.#chunkBytes))))
    return { targetMs, maxItems }
  }

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
    if (f.placed === null) return
    const id = f.placed as string
    this.#direct?.forget(id)
    const stored = this.#storedTasks.get(id)
    if (stored !== undefined) {
      // Only now: until the task settled, JetStream may deliver it again and a worker read it again.
      this.#storedTasks.delete(id)
      this.#conn?.payloads.delete(stored)
    }
    if (this.#inflight.delete(id) && this.#host.queue.length > 0) this.#host.schedulePump()
  }

  idle(): void {
    // Shut down and nothing left to do: let go of the connection (shutdown({ wait: false }) too).
    if (this.#host.state === 'SHUTDOWN') void this.close()
  }

  async close(): Promise<void> {
    this.#direct?.close()
    const connecting = this.#connecting
    if (connecting === null) return
    let conn: CallerConnection
    try {
      conn = await connecting
    } catch {
      return
    }
    if (conn.nc.isClosed()) return
    await conn.payloads.settled()
    await conn.nc.close().catch(() => {})
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
    const now = performance.now()
    if (batch[0]!.placed === null) this.#host.stats.recordWaits(batch, now)
    for (const f of batch) {
      if (f.placed === null) f.placed = (this.#nextId++).toString(36)
      f.sentAt = now
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
    this.#track(batch)
    // A batch that cannot go as one message goes task by task, each told apart.
    const alone = (): boolean => {
      if (batch.length === 1) return false
      for (const f of batch) this.#inflight.delete(f.placed as string)
      for (const f of batch) this.#publish(conn, [f])
      return true
    }
    const units = batch.map((f): TaskUnit => {
      const unit: TaskUnit = {
        id: f.placed as string,
        k: f.kind | (f.shared ? FLAG_SHARED : 0) | (f.flat ? FLAG_FLAT : 0) | (f.onProgress !== undefined ? FLAG_PROGRESS : 0),
        m: libraryModuleId(f.task.module),
        n: f.task.name,
        a: f.args!,
        r: f.retries,
      }
      // Workers count runs again under retryOn (status, metrics).
      if (f.reruns > 0) unit.t = f.reruns + 1
      return unit
    })
    let data: Uint8Array
    try {
      data = this.#message(units)
    } catch (error) {
      if (alone()) return
      this.#inflight.delete(units[0]!.id)
      const reason = (error as Error).message
      batch[0]!.setException(new SerializationError(`Cannot send task ${batch[0]!.task.label} to the cluster: ${reason}`, { argIndex: -1, path: 'args', reason }, { cause: error }))
      return
    }
    const { maxPayloadSize } = this.#options
    if (data.length > conn.room || data.length > maxPayloadSize) {
      if (alone()) return
      const f = batch[0]!
      if (data.length > maxPayloadSize) {
        this.#inflight.delete(units[0]!.id)
        f.setException(payloadTooLarge('args', f.task.label, data.length, maxPayloadSize, CALLER_LIMIT))
        return
      }
      void this.#publishStored(conn, f, units[0]!, data)
      return
    }
    // Chunks of a few items say more about the message's own bytes than about the items'.
    if (batch.length === 1 && batch[0]!.kind === KIND_CHUNK && units[0]!.a.length >= 16) {
      // Decayed sums: a large chunk weighs as many items as it holds, so the message's fixed bytes fade out.
      this.#chunkBytes = this.#chunkBytes * 0.5 + data.length
      this.#chunkItems = this.#chunkItems * 0.5 + Math.max(1, units[0]!.a.length)
    }
    if (batch.length === 1 && this.#direct?.wanted(this.#inflight.size, this.#host.queue.length)) {
      const f = batch[0]!
      const unit = units[0]!
      this.#direct.send(unit.id, data, (counted) => {
        if (f.done() || this.#inflight.get(unit.id) !== f) return
        // Counted: a worker may have run it (it took it, or went silent), so the stream's run is its next delivery.
        this.#enqueue(conn, batch, counted ? this.#message([{ ...unit, d: (unit.d ?? 0) + 1 }]) : data, unit.id)
      })
      return
    }
    this.#enqueue(conn, batch, data, units[0]!.id)
  }

  /** The task message of `units`. */
  #message(units: TaskUnit[]): Uint8Array {
    return encode({ v: NATS_PROTOCOL_VERSION, s: this.#options.session, q: units } satisfies TaskMessage)
  }

  /** Publishes a task message for `batch`; a failure after publishTimeout fails its tasks. */
  #enqueue(conn: CallerConnection, batch: TaskFuture[], data: Uint8Array, firstId: string): void {
    const { names, session, publishTimeout } = this.#options
    // The message id is the de-duplication key of a message published twice (a retry after a lost ack).
    const publish = (): Promise<unknown> => conn.js.publish(names.taskSubject(session), data, { msgID: `${session}.${firstId}`, timeout: Math.min(5_000, publishTimeout) })
    void retrying(conn.nc, publishTimeout, publish).catch((error: unknown) => {
      const cause = new ClusterError(`Cannot enqueue tasks on stream ${names.stream}: ${(error as Error)?.message ?? error}`, { cause: error })
      for (const f of batch) if (!f.done()) f.setException(cause)
    })
  }

  /** A task too large for a message: its message goes to the Object Store, and a message naming the object to the stream. */
  async #publishStored(conn: CallerConnection, f: TaskFuture, unit: TaskUnit, data: Uint8Array): Promise<void> {
    const name = ObjectPayloads.taskName(this.#options.session, unit.id)
    try {
      await conn.payloads.put(name, data, this.#options.publishTimeout)
    } catch (error) {
      if (!f.done()) f.setException(error as Error)
      return
    }
    // Settled while it was stored (cancelled, timed out): taskDone has run, nobody else deletes it.
    if (f.done()) {
      conn.payloads.delete(name)
      return
    }
    this.#storedTasks.set(unit.id, name)
    this.#enqueue(conn, [f], this.#message([{ ...unit, a: [], o: name }]), unit.id)
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
        return { nc, js: js.jetstream(nc), room: messageRoom(nc), payloads: new ObjectPayloads(() => nc, names.payloadBucket) }
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
    if (message.t === 'working' || message.t === 'back') {
      if (!Array.isArray(message.ids)) return
      if (message.t === 'working') this.#direct?.working(message.ids, message.w)
      else this.#direct?.back(message.ids)
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
        // Came back: no longer watched, whatever comes of it (a stored result may take a while to read).
        const direct = this.#direct?.forget(r[i] as string) ?? false
        const ms = r[i + 3] as number
        if (typeof ms === 'number' && ms >= 0) {
          this.#avgTaskMs = Number.isNaN(this.#avgTaskMs) ? ms : this.#avgTaskMs * 0.7 + ms * 0.3
          host.stats.run.record(ms)
          activity.busyMs += ms
          // The first task of a message waited for no other task of it: its trip less its run is a message's fixed cost
          // through the stream (map's chunks go that way; a direct trip is shorter).
          if (i === 0 && !direct && f !== undefined && f.sentAt > 0) this.#tripSample(performance.now() - f.sentAt - ms)
        }
        activity.tasks++
        if (r[i + 1] === STATUS_STORED) {
          this.#readStored(r[i] as string, r[i + 2] as string, message.w)
          continue
        }
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

  /** Keeps the fastest trip of the current and the last window of TRIP_WINDOW, so the figure follows a network that got slower. */
  #tripSample(ms: number): void {
    if (!(ms >= 0)) return
    this.#windowTripMs = Math.min(this.#windowTripMs, ms)
    this.#tripMs = Number.isNaN(this.#tripMs) ? ms : Math.min(this.#tripMs, ms)
    if (++this.#windowTrips >= TRIP_WINDOW) {
      this.#tripMs = this.#windowTripMs
      this.#windowTripMs = Infinity
      this.#windowTrips = 0
    }
  }

  /**
   * A result stored as object `name`: read it and settle task `id` with it,
   * then delete it. The task stays in flight while it is read. Another
   * object for the same task (a second run's result, or any result of a
   * task already settled) is deleted unread; the one being read is left
   * alone when its request comes again.
   */
  #readStored(id: string, name: string, worker: string): void {
    const payloads = this.#conn!.payloads
    const f = this.#inflight.get(id)
    if (f === undefined || f.done() || this.#reading.has(id)) {
      if (this.#reading.get(id) !== name) payloads.delete(name)
      return
    }
    this.#reading.set(id, name)
    const limit = this.#options.maxPayloadSize
    /** Read (or unreadable): the object goes; true when the task still waits for its outcome. */
    const finish = (): boolean => {
      this.#reading.delete(id)
      payloads.delete(name)
      if (f.done()) return false
      this.#inflight.delete(id)
      return true
    }
    payloads
      .get(name, (size) => {
        if (size > limit) throw payloadTooLarge('result', f.task.label, size, limit, CALLER_LIMIT)
      })
      .then((bytes) => {
        if (bytes === null) throw new ClusterError(`The result of task ${f.task.label} is no longer in object store bucket ${payloads.bucket} (it expired: the bucket's max_age)`)
        const message = decode<ToCaller>(bytes)
        if (message.t !== 'results' || message.r[0] !== id) throw new ClusterError(`Object ${name} of bucket ${payloads.bucket} does not hold the result of task ${f.task.label}`)
        return message.r
      })
      .then(
        (r) => finish() && this.#host.settle(f, r[1] as number, r[2], worker),
        (error: unknown) => finish() && f.setException(error as Error),
      )
  }
}

/**
 * NatsExecutor: the Executor API over a NATS JetStream cluster.
 *
 *   submit() ─▶ NatsTask ─▶ local queue ─▶ pump() ─▶ batch ─▶ JetStream publish {prefix}.task.{session}
 *                  ▲                         (at most maxWorkers tasks in flight)        │
 *                  │                                                          work-queue stream
 *                  │                                                                     │ pull
 *                  └── settle ◀── results request on {prefix}.s.{session} ◀── NatsWorker (any machine)
 *
 * A task leaves the local queue (and becomes RUNNING) when it is published;
 * until then it can be cancelled like any queued task. Results come back as
 * requests that this executor answers; the worker acks the task only after
 * that answer, so a result is never lost, and a redelivered task that
 * reports twice is de-duplicated here by its id: each Future settles once.
 * Timeouts and aborted signals settle the Future at once and broadcast a
 * cancel that stops the task where it runs. Workers ping the session of
 * every task they hold; once this executor is gone (shut down, crashed,
 * killed) the pings find no responder and its tasks are dropped.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import {
  BrokenExecutorError,
  CancelledError,
  ClusterError,
  SerializationError,
  TimeoutError,
  UnsupportedBackendError,
  invalidArgType,
} from '../../errors.js'
import { Deque } from '../../internal/deque.js'
import { abortSignal, boolean, knownKeys, nonNegativeInteger, optionalTimeout, plainObject, positiveInteger, timeoutMs } from '../../internal/validate.js'
import { resolveTask, type ResolvedTask, type Task, type TaskFunction } from '../../task_ref.js'
import { findUncloneable, type Transferable } from '../../wire/codec.js'
import { deserializeError, type SerializedValue } from '../../wire/remote_error.js'
import { libraryModuleId } from '../../wire/library_module.js'
import { encodeShareables, type ShareTarget } from '../../wire/shareable.js'
import { CLUSTER_CAPABILITIES } from './capabilities.js'
import { Executor, type ChunkResult, type ShutdownOptions, type SubmitOptions } from '../../futures/executor.js'
import { Future, kForceCancel } from '../../futures/future.js'
import { CONNECTION_KEYS, checkConnectionOptions, connectionOptions, type NatsConnectionOptions } from './nats_options.js'
import { connectNats, ensureStream, loadNats, type NatsConnection } from './nats_client.js'
import {
  NATS_PROTOCOL_VERSION,
  RESULT_OK,
  UNIT_CALL,
  UNIT_CHUNK,
  decode,
  encode,
  names,
  type CancelMessage,
  type ChunkWireOutcome,
  type Names,
  type TaskMessage,
  type TaskUnit,
  type ToCaller,
} from './protocol.js'

/** Options of NatsExecutor: where the cluster is, and how much to put in flight. */
export interface NatsExecutorOptions extends NatsConnectionOptions {
  /** Tasks of this executor in flight on the cluster at most (the rest wait here). Default 64. */
  maxWorkers?: number
  /** How many times a task whose worker thread crashed is run again (on the worker) before it fails. Default 0. */
  retries?: number
  /** How long to keep trying to enqueue a task while the server is unreachable, in ms. Default 30000. */
  publishTimeout?: number
}

const OWN_KEYS = ['maxWorkers', 'retries', 'publishTimeout'] as const
const LOCAL_ONLY = ['initializer', 'initargs', 'maxTasksPerChild', 'resourceLimits', 'idleTimeout', 'execArgv', 'env'] as const
const SUBMIT_KEYS = ['timeout', 'signal', 'transfer', 'retries'] as const
const DEFAULT_MAX_WORKERS = 64
/** Tasks per JetStream message at most, and the backlog (ms of measured task time) one message may carry. */
const MAX_BATCH = 256
const BACKLOG_MS = 2
/** Room left in a message for headers and framing. */
const PAYLOAD_SLACK = 4096

type State = 'RUNNING' | 'SHUTDOWN' | 'BROKEN'

interface Link {
  nc: NatsConnection
  js: import('@nats-io/jetstream').JetStreamClient
  maxPayload: number
}

class NatsTask<T = unknown> extends Future<T> {
  args: unknown[] | null
  shared = false
  sent = false
  timer: NodeJS.Timeout | undefined = undefined
  onAbort: (() => void) | undefined = undefined
  callerStack: string | undefined = undefined

  constructor(
    readonly id: string,
    readonly task: ResolvedTask,
    readonly kind: number,
    args: unknown[],
    readonly retries: number,
    readonly signal: AbortSignal | undefined,
    readonly timeout: number | undefined,
  ) {
    super()
    this.args = args
  }
}

let sessions = 0

export class NatsExecutor extends Executor {
  readonly #connection: NatsConnectionOptions
  readonly #names: Names
  readonly #session: string
  readonly #maxWorkers: number
  readonly #retries: number
  readonly #publishTimeout: number
  readonly #queue = new Deque<NatsTask>()
  readonly #inflight = new Map<string, NatsTask>()
  readonly #verifying = new Set<NatsTask>()
  #state: State = 'RUNNING'
  #broken: Error | null = null
  #link: Link | null = null
  #linking: Promise<Link> | null = null
  #nextId = 0
  #pending = 0
  #avgTaskMs = NaN
  #pumpScheduled = false
  #idleWaiters: (() => void)[] = []
  readonly #pumpBound = (): void => this.#pump()
  readonly #onTaskDone = (f: Future<unknown>): void => {
    const task = f as NatsTask
    this.#pending--
    if (task.timer !== undefined) clearTimeout(task.timer)
    if (task.onAbort !== undefined) task.signal!.removeEventListener('abort', task.onAbort)
    task.args = null
    if (this.#inflight.delete(task.id) && this.#queue.length > 0) this.#schedulePump()
    if (this.#pending === 0) this.#whenIdle()
  }

  /**
   * An executor whose tasks run on the workers of a NATS JetStream cluster
   * (`multiproc worker --nats <url> --allow <module>`). It connects on first use.
   *
   * @param options `servers` (default `MULTIPROC_NATS_URL` or nats://127.0.0.1:4222),
   *   `user`/`pass`, `token`, `nkeySeed`, `credsFile`, `tls`, `prefix`, `stream`,
   *   `maxWorkers` (tasks in flight, default 64), `retries`, `publishTimeout`
   * @throws TypeError / RangeError for a bad option; UnsupportedBackendError for
   *   options that only local executors have (initializer, maxTasksPerChild, ...)
   * @example
   * await using ex = new NatsExecutor({ servers: 'nats://10.0.0.5:4222' })
   * console.log(await ex.submit(square, 7)) // 49, computed on some worker
   */
  constructor(options: NatsExecutorOptions = {}) {
    super()
    const opts = plainObject('options', options)
    for (const key of LOCAL_ONLY) {
      if (opts[key] !== undefined) {
        throw new UnsupportedBackendError(
          `The nats backend has no \`${key}\`: workers are shared by every caller of the cluster and configured where they run (multiproc worker --concurrency ...)`,
        )
      }
    }
    knownKeys('NatsExecutor', opts, [...CONNECTION_KEYS, ...OWN_KEYS])
    checkConnectionOptions(opts)
    this.#connection = connectionOptions(opts)
    this.#names = names(this.#connection.prefix ?? 'multiproc', this.#connection.stream ?? 'MULTIPROC')
    this.#maxWorkers = opts.maxWorkers === undefined ? DEFAULT_MAX_WORKERS : positiveInteger('maxWorkers', opts.maxWorkers)
    this.#retries = opts.retries === undefined ? 0 : nonNegativeInteger('retries', opts.retries)
    this.#publishTimeout = opts.publishTimeout === undefined ? 30_000 : timeoutMs('publishTimeout', opts.publishTimeout, false)
    this.#session = `${randomBytes(9).toString('base64url')}${(sessions++).toString(36)}`
  }

  /** Tasks in flight on the cluster at most. */
  get maxWorkers(): number {
    return this.#maxWorkers
  }

  /** 'nats'. */
  get backend(): string {
    return 'nats'
  }

  /** This executor's session id: the subject token its tasks and results travel under. */
  get session(): string {
    return this.#session
  }

  /** A snapshot of the executor's activity. */
  stats(): {
    /** Tasks waiting to be published (at most `maxWorkers` are on the cluster at once). */
    queued: number
    /** Tasks published and not settled. */
    running: number
    /** Futures not settled yet. */
    pending: number
    /** 'RUNNING', or the stage of shutting down. */
    state: State
    /** Whether the NATS connection is up. */
    connected: boolean
  } {
    return { queued: this.#queue.length, running: this.#inflight.size, pending: this.#pending, state: this.#state, connected: this.#link !== null }
  }

  protected checkOpen(): void {
    if (this.#state === 'RUNNING') return
    if (this.#state === 'BROKEN') throw new BrokenExecutorError(`The cluster executor is broken: ${this.#broken?.message}`, { cause: this.#broken })
    throw new BrokenExecutorError('Cannot submit new tasks after shutdown()')
  }

  submitWith<F extends TaskFunction>(options: SubmitOptions | undefined, fn: Task<F>, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    this.checkOpen()
    const task = resolveTask(fn)
    let timeout: number | undefined
    let signal: AbortSignal | undefined
    let transfer: readonly Transferable[] | undefined
    let retries = this.#retries
    if (options !== undefined) {
      const opts = plainObject('options', options)
      knownKeys('submitWith()', opts, SUBMIT_KEYS)
      timeout = optionalTimeout('timeout', opts.timeout)
      if (timeout === Infinity) timeout = undefined
      signal = abortSignal('signal', opts.signal)
      if (opts.transfer !== undefined) {
        if (!Array.isArray(opts.transfer)) throw invalidArgType(`Expected \`transfer\` to be an array of ArrayBuffers or MessagePorts, got ${typeof opts.transfer}`)
        transfer = opts.transfer as Transferable[]
      }
      if (opts.retries !== undefined) retries = nonNegativeInteger('retries', opts.retries)
    }
    const found = { shareables: 0 }
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]
      if (arg === null || (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol')) continue
      const problem = findUncloneable(arg, `args[${i}]`, transfer, false, found)
      if (problem !== null) throw serializationError(problem, i, task)
    }
    if (found.shareables > 0) args = encodeShareables(args, SHARE_TARGET) as typeof args
    if (transfer !== undefined && transfer.length > 0) {
      // The caller's buffers are detached at submit, as with local executors; they are sent as copies.
      args = structuredClone(args, { transfer: transfer as Transferable[] }) as typeof args
    }
    const f = new NatsTask<Awaited<ReturnType<F>>>(this.#newId(), task, UNIT_CALL, args, retries, signal, timeout)
    f.shared = found.shareables > 0
    if (signal?.aborted) {
      f[kForceCancel](new CancelledError('The task was not started: its signal was already aborted', { cause: signal.reason }))
      return f
    }
    this.#enqueue(f as NatsTask)
    return f
  }

  submitChunk(task: ResolvedTask, argsList: unknown[][]): Future<ChunkResult> {
    this.checkOpen()
    const found = { shareables: 0 }
    let problem: { path: string; reason: string } | null = null
    let problemArg = 0
    outer: for (let i = 0; i < argsList.length; i++) {
      const args = argsList[i]!
      for (let j = 0; j < args.length; j++) {
        const arg = args[j]
        if (arg === null || (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol')) continue
        problem = findUncloneable(arg, `item[${i}] argument ${j}`, undefined, false, found)
        if (problem !== null) {
          problemArg = j
          break outer
        }
      }
    }
    const list = found.shareables > 0 ? (encodeShareables(argsList, SHARE_TARGET) as unknown[][]) : argsList
    const f = new NatsTask<ChunkResult>(this.#newId(), task, UNIT_CHUNK, list, this.#retries, undefined, undefined)
    f.shared = found.shareables > 0
    if (problem !== null) {
      f.setException(serializationError(problem, problemArg, task))
      return f
    }
    this.#enqueue(f as NatsTask)
    return f
  }

  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const opts = plainObject('options', options)
    knownKeys('shutdown()', opts, ['wait', 'cancelFutures'])
    const wait = opts.wait === undefined ? true : boolean('wait', opts.wait)
    const cancelFutures = opts.cancelFutures === undefined ? false : boolean('cancelFutures', opts.cancelFutures)
    if (this.#state === 'RUNNING') this.#state = 'SHUTDOWN'
    if (cancelFutures) {
      for (const f of this.#queue) f.cancel()
      for (const f of this.#verifying) f.cancel()
    }
    if (this.#pending === 0) this.#whenIdle()
    if (!wait) return
    if (this.#pending > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
    await this.#close()
  }

  /**
   * Stops this executor's work now: queued tasks are cancelled, tasks on the
   * cluster are cancelled where they run and dropped from the stream, and
   * every pending Future settles with CancelledError. `Pool.terminate()` uses it.
   */
  async terminateWorkers(): Promise<void> {
    if (this.#state === 'RUNNING') this.#state = 'SHUTDOWN'
    const notStarted = new CancelledError('The task was cancelled before it started: its executor was terminated')
    for (const f of this.#queue.drain()) f[kForceCancel](notStarted)
    for (const f of [...this.#verifying]) f[kForceCancel](notStarted)
    const running = [...this.#inflight.values()]
    for (const f of running) f[kForceCancel](new CancelledError(`Task ${f.task.label} was stopped: its executor was terminated`))
    const link = this.#link
    if (link !== null) {
      this.#broadcastCancel([], true)
      try {
        const { js } = await loadNats()
        const jsm = await js.jetstreamManager(link.nc)
        await jsm.streams.purge(this.#names.stream, { filter: this.#names.taskSubject(this.#session) })
      } catch {
        // the workers drop this session's tasks anyway once it is gone
      }
    }
    await this.#close()
  }

  // ── internals ──

  #newId(): string {
    return (this.#nextId++).toString(36)
  }

  #enqueue(f: NatsTask): void {
    this.#pending++
    f.addDoneCallback(this.#onTaskDone)
    if (f.timeout !== undefined) {
      f.timer = setTimeout(() => this.#stopTask(f, 'timeout'), f.timeout)
      f.timer.unref()
    }
    if (f.signal !== undefined) {
      f.onAbort = () => this.#stopTask(f, 'abort')
      f.signal.addEventListener('abort', f.onAbort, { once: true })
    }
    const verified = f.task.verified
    if (verified !== null) {
      // First use of a function from a module not loaded yet: its export name is confirmed first.
      this.#verifying.add(f)
      verified.then(
        () => {
          this.#verifying.delete(f)
          if (f.done()) return
          if (this.#state === 'BROKEN') f.setException(this.#broken)
          else {
            this.#queue.push(f)
            this.#schedulePump()
          }
        },
        (error: unknown) => {
          this.#verifying.delete(f)
          if (!f.done()) f.setException(error)
        },
      )
      return
    }
    this.#queue.push(f)
    this.#schedulePump()
  }

  #stopTask(f: NatsTask, why: 'timeout' | 'abort'): void {
    if (f.done()) return
    const running = f.sent
    if (why === 'timeout') {
      f.setException(new TimeoutError(`Task ${f.task.label} timed out after ${f.timeout} ms ${running ? 'while running; it was stopped on the cluster' : 'before it started'}`))
    } else {
      f[kForceCancel](
        new CancelledError(
          running
            ? `Task ${f.task.label} was cancelled while running: its signal was aborted; it was stopped on the cluster`
            : `Task ${f.task.label} was cancelled before it started: its signal was aborted`,
          { cause: f.signal!.reason },
        ),
      )
    }
    if (running) this.#broadcastCancel([f.id], false)
  }

  #broadcastCancel(ids: string[], all: boolean): void {
    const link = this.#link
    if (link === null) return
    const message: CancelMessage = { v: NATS_PROTOCOL_VERSION, s: this.#session, ids, all }
    try {
      link.nc.publish(this.#names.cancelSubject, encode(message))
    } catch {
      // disconnected for good: the workers' pings will find this session gone
    }
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    queueMicrotask(this.#pumpBound)
  }

  #batchLimit(): number {
    if (Number.isNaN(this.#avgTaskMs)) return 1
    if (this.#avgTaskMs <= 0) return MAX_BATCH
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(BACKLOG_MS / this.#avgTaskMs)))
  }

  #pump(): void {
    this.#pumpScheduled = false
    if (this.#state === 'BROKEN' || this.#queue.length === 0) return
    // Tasks are dispatched (RUNNING) even before the connection is up: they
    // count against maxWorkers and are published once it is.
    const link = this.#link ?? this.#connect()
    const limit = this.#batchLimit()
    while (this.#queue.length > 0 && this.#inflight.size < this.#maxWorkers) {
      const room = Math.min(limit, this.#maxWorkers - this.#inflight.size)
      // A task with a timeout or a signal travels alone (it may have to be stopped on its
      // own); the others are packed, and a worker runs a pack on one thread.
      const batch: NatsTask[] = []
      while (batch.length < room && this.#queue.length > 0) {
        const f = this.#queue.peek()!
        if (f.done()) {
          this.#queue.shift()
          continue
        }
        const killable = f.timeout !== undefined || f.signal !== undefined
        if (killable && batch.length > 0) break
        this.#queue.shift()
        if (!f.setRunningOrNotifyCancel()) continue
        batch.push(f)
        if (killable) break
      }
      if (batch.length === 0) break
      this.#publish(link, batch)
    }
  }

  #publish(link: Link | Promise<Link>, batch: NatsTask[]): void {
    if (link instanceof Promise) {
      for (const f of batch) {
        f.sent = true
        this.#inflight.set(f.id, f)
      }
      // A failed connection breaks the executor, which fails these tasks.
      link.then(
        (ready) => {
          const live = batch.filter((f) => !f.done())
          for (const f of live) this.#inflight.delete(f.id)
          if (live.length > 0) this.#publish(ready, live)
        },
        () => {},
      )
      return
    }
    const units: TaskUnit[] = batch.map((f) => ({ id: f.id, k: f.kind, m: libraryModuleId(f.task.module), n: f.task.name, a: f.args!, sh: f.shared, r: f.retries }))
    let data: Uint8Array
    try {
      data = encode({ v: NATS_PROTOCOL_VERSION, s: this.#session, q: units } satisfies TaskMessage)
    } catch (error) {
      if (batch.length > 1) {
        for (const f of batch) this.#publish(link, [f])
        return
      }
      batch[0]!.setException(new SerializationError(`Cannot send task ${batch[0]!.task.label} to the cluster: ${(error as Error).message}`, { argIndex: -1, path: 'args', reason: (error as Error).message }, { cause: error }))
      return
    }
    if (data.length > link.maxPayload - PAYLOAD_SLACK) {
      if (batch.length > 1) {
        for (const f of batch) this.#publish(link, [f])
        return
      }
      const reason = `the task message is ${data.length} bytes, more than the server's max_payload (${link.maxPayload} bytes) allows`
      batch[0]!.setException(
        new SerializationError(`Cannot send task ${batch[0]!.task.label} to the cluster: ${reason}; pass a reference to the data (a file, an object store key) instead`, {
          argIndex: -1,
          path: 'args',
          reason,
        }),
      )
      return
    }
    for (const f of batch) {
      f.sent = true
      this.#inflight.set(f.id, f)
    }
    void this.#publishWithRetry(link, data, `${this.#session}.${batch[0]!.id}`).catch((error: unknown) => {
      const cause = new ClusterError(`Cannot enqueue tasks on stream ${this.#names.stream}: ${(error as Error)?.message ?? error}`, { cause: error })
      for (const f of batch) if (!f.done()) f.setException(cause)
    })
  }

  /** Publishes with the message id as de-duplication key, retrying through a reconnect until publishTimeout. */
  async #publishWithRetry(link: Link, data: Uint8Array, msgID: string): Promise<void> {
    const deadline = performance.now() + this.#publishTimeout
    for (let attempt = 0; ; attempt++) {
      try {
        await link.js.publish(this.#names.taskSubject(this.#session), data, { msgID, timeout: Math.min(5_000, this.#publishTimeout) })
        return
      } catch (error) {
        if (performance.now() >= deadline || link.nc.isClosed()) throw error
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)))
      }
    }
  }

  #connect(): Promise<Link> {
    if (this.#linking !== null) return this.#linking
    this.#linking = (async () => {
      const nc = await connectNats(this.#connection, `multiproc caller ${hostname()}:${process.pid}`)
      try {
        await ensureStream(nc, this.#names.stream, this.#names.taskWildcard)
        const { js } = await loadNats()
        nc.subscribe(this.#names.sessionSubject(this.#session), { callback: (error, msg) => (error === null ? this.#onSessionMessage(msg) : undefined) })
        await nc.flush()
        return { nc, js: js.jetstream(nc), maxPayload: nc.info?.max_payload ?? 1024 * 1024 }
      } catch (error) {
        await nc.close().catch(() => {})
        throw error
      }
    })()
    this.#linking.then(
      (link) => {
        this.#link = link
        void link.nc.closed().then((error) => {
          if (this.#pending > 0 && this.#state !== 'BROKEN') this.#break(new ClusterError(`The NATS connection closed${error ? `: ${(error as Error).message}` : ''}`, { cause: error }))
        })
        if (this.#state === 'SHUTDOWN' && this.#pending === 0) void this.#close()
        else this.#pump()
      },
      (error: unknown) => this.#break(error instanceof ClusterError ? error : new ClusterError(String((error as Error)?.message ?? error), { cause: error })),
    )
    return this.#linking
  }

  #onSessionMessage(msg: import('@nats-io/transport-node').Msg): void {
    let message: ToCaller
    try {
      message = decode<ToCaller>(msg.data)
    } catch {
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION) return
    if (message.t === 'results') {
      const r = message.r
      for (let i = 0; i < r.length; i += 4) {
        const f = this.#inflight.get(r[i] as string)
        const ms = r[i + 3] as number
        if (typeof ms === 'number' && ms >= 0) this.#avgTaskMs = Number.isNaN(this.#avgTaskMs) ? ms : this.#avgTaskMs * 0.7 + ms * 0.3
        // A result for a task that already settled (redelivered, timed out, cancelled) is dropped.
        if (f === undefined || f.done()) continue
        this.#inflight.delete(f.id)
        this.#settle(f, r[i + 1] as number, r[i + 2], message.w)
      }
    }
    // The answer confirms the results: only now does the worker ack the task message.
    if (msg.reply) msg.respond()
    if (this.#queue.length > 0) this.#schedulePump()
  }

  #settle(f: NatsTask, status: number, value: unknown, worker: string): void {
    if (status === RESULT_OK) {
      if (f.kind === UNIT_CHUNK) {
        const outcome = value as ChunkWireOutcome
        let errors: Map<number, unknown> | undefined
        if (outcome.e !== undefined) {
          errors = new Map()
          for (const [index, error] of outcome.e) errors.set(index, deserializeError(error, { task: f.task.label, worker, callerStack: f.callerStack }))
        }
        ;(f as NatsTask<ChunkResult>).setResult({ values: outcome.v, errors, ms: outcome.d })
      } else {
        f.setResult(value)
      }
    } else {
      f.setException(deserializeError(value as SerializedValue, { task: f.task.label, worker, callerStack: f.callerStack }))
    }
  }

  #break(error: Error): void {
    if (this.#state === 'BROKEN') return
    this.#state = 'BROKEN'
    this.#broken = error
    for (const f of this.#queue.drain()) if (!f.done()) f.setException(error)
    for (const f of this.#verifying) if (!f.done()) f.setException(error)
    for (const f of [...this.#inflight.values()]) if (!f.done()) f.setException(error)
    void this.#close()
  }

  #whenIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
    // Shut down and nothing left to do: let go of the connection (shutdown({ wait: false }) too).
    if (this.#state === 'SHUTDOWN') void this.#close()
  }

  async #close(): Promise<void> {
    const linking = this.#linking
    if (linking === null) return
    let link: Link
    try {
      link = await linking
    } catch {
      return
    }
    if (!link.nc.isClosed()) await link.nc.close().catch(() => {})
  }
}

const SHARE_TARGET: ShareTarget = { ...CLUSTER_CAPABILITIES, backend: 'nats' }

function serializationError(problem: { path: string; reason: string }, index: number, task: ResolvedTask): SerializationError {
  return new SerializationError(`Cannot send argument ${index} of task ${task.label} to a worker: ${problem.reason}`, {
    argIndex: index,
    path: problem.path,
    reason: problem.reason,
  })
}

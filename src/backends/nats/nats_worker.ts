/**
 * NatsWorker: pulls tasks from the JetStream work-queue stream and runs them
 * in local worker threads (a ThreadPoolExecutor), so the connection's
 * heartbeats never stall on CPU work.
 *
 *   stream ──fetch (≤ prefetch messages held)──▶ held message ──▶ allowlist ──▶ ThreadPoolExecutor ──▶ runTask()
 *      ▲                                               │                                                      │
 *      └── ack once the caller confirmed every result ◀┴──── results request {prefix}.s.{session} ◀────────────┘
 *
 * Delivery is at least once. Every held message gets an in-progress signal
 * (`working()`) each third of `ackWait`, so a long task is not redelivered
 * while this worker lives; a worker that dies or hangs stops sending them
 * and the message goes to another worker after `ackWait`. A message
 * delivered more than `maxDeliver` times is a poison task: its tasks fail
 * with ClusterError at the caller and the message is terminated.
 *
 * Callers are pinged (a request to their session subject) before their
 * first task runs and then every heartbeat while this worker holds their
 * tasks; a caller with no responder is gone, and its tasks are stopped and
 * dropped. A cancel broadcast stops a running task (its thread is
 * terminated and replaced) and drops a task not started yet.
 */
import { hostname } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import { existsSync, statSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { ClusterError, ModuleNotAllowedError, SerializationError, WorkerCrashedError, invalidArgType } from '../../errors.js'
import { cpuCount } from '../../cpu_count.js'
import { knownKeys, plainObject, positiveInteger, timeoutMs } from '../../internal/validate.js'
import { resolveTask, task } from '../../task_ref.js'
import { serializeError, type SerializedValue } from '../../wire/remote_error.js'
import { ThreadPoolExecutor } from '../../futures/thread_pool_executor.js'
import { CONNECTION_KEYS, checkConnectionOptions, connectionOptions, type NatsConnectionOptions } from './nats_options.js'
import { connectNats, ensureStream, loadNats, type NatsConnection } from './nats_client.js'
import {
  NATS_PROTOCOL_VERSION,
  RESULT_ERROR,
  RESULT_OK,
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
import type { RunOutcome } from './run_task.js'
import { isLibraryShareableModule, libraryTaskImports } from './library_tasks.js'
import { isLibraryModuleId, resolveModule } from '../../wire/library_module.js'

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
  /** Milliseconds without an in-progress signal before JetStream redelivers a task. Default 30000. */
  ackWait?: number
  /** Deliveries of a task message before it is a poison task. Default 5. */
  maxDeliver?: number
  /** How long a caller that does not answer pings (but has not clearly left) is waited for, in ms. Default 30000. */
  sessionTimeout?: number
  /** Node options of the worker threads. Default: this process's. */
  execArgv?: string[]
  /** Called with a line to log (default: none). */
  log?: (line: string) => void
}

const OWN_KEYS = ['allow', 'root', 'concurrency', 'prefetch', 'ackWait', 'maxDeliver', 'sessionTimeout', 'execArgv', 'log'] as const
const TRACE = process.env.MULTIPROC_NATS_TRACE === '1'
/** How long a caller without a responder is asked again before it counts as gone. */
const GONE_GRACE_MS = 2_000
const CANCELLED_KEEP_MS = 10 * 60_000
const CANCELLED_MAX = 100_000
const RUN_TASK = task<(m: string, n: string, k: number, a: unknown[], sh: boolean) => RunOutcome>(
  new URL(`./run_task${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
  'runTask',
)
const WARM_UP = task<() => boolean>(RUN_TASK.module, 'warmUp')
const RUN_BATCH = task<(units: [string, string, number, unknown[], boolean][]) => RunOutcome[]>(RUN_TASK.module, 'runBatch')
const RUN_TASK_LABEL = `runTask (run_task${import.meta.url.endsWith('.ts') ? '.ts' : '.js'})`

type JsMsg = import('@nats-io/jetstream').JsMsg

/** A task message this worker holds until every result in it was confirmed. */
interface Held {
  msg: JsMsg
  session: string
  open: Set<string>
  controllers: Map<string, AbortController>
  dead: boolean
  done: boolean
}

interface Session {
  lastSeen: number
  firstFailure: number
  checking: Promise<boolean> | null
  outbox: unknown[]
  outboxHeld: Held[]
  flushScheduled: boolean
}

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
  readonly #allowExact = new Set<string>()
  readonly #allowPrefixes: string[] = []
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
  #local: ThreadPoolExecutor | null = null
  #running = false
  #held = new Set<Held>()
  #requested = 0
  #heartbeat: NodeJS.Timeout | undefined
  readonly #sessions = new Map<string, Session>()
  readonly #dead = new Map<string, number>()
  readonly #cancelled = new Map<string, number>()
  #stopped: Promise<void> | null = null
  #idleWaiters: (() => void)[] = []
  #consumer: import('@nats-io/jetstream').Consumer | null = null
  /** Tasks finished since start (for logs and tests). */
  completed = 0

  /**
   * @param options `allow` (required), `servers` and the auth options, `concurrency`
   *   (default `cpuCount()`), `prefetch`, `ackWait`, `maxDeliver`, `sessionTimeout`, `root`
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
    for (const entry of opts.allow as string[]) this.#addAllowed(entry, root)
    this.#concurrency = opts.concurrency === undefined ? cpuCount() : positiveInteger('concurrency', opts.concurrency)
    this.#prefetch = opts.prefetch === undefined ? 2 * this.#concurrency : positiveInteger('prefetch', opts.prefetch)
    this.#ackWait = opts.ackWait === undefined ? 30_000 : timeoutMs('ackWait', opts.ackWait, false)
    if (this.#ackWait < 100) throw new RangeError(`Expected \`ackWait\` to be at least 100 ms, got ${this.#ackWait}`)
    this.#maxDeliver = opts.maxDeliver === undefined ? 5 : positiveInteger('maxDeliver', opts.maxDeliver)
    this.#sessionTimeout = opts.sessionTimeout === undefined ? 30_000 : timeoutMs('sessionTimeout', opts.sessionTimeout, false)
    if (opts.execArgv !== undefined && (!Array.isArray(opts.execArgv) || !opts.execArgv.every((a) => typeof a === 'string'))) {
      throw invalidArgType('Expected `execArgv` to be an array of strings')
    }
    this.#execArgv = opts.execArgv as string[] | undefined
    this.#log = typeof opts.log === 'function' ? (opts.log as (line: string) => void) : () => {}
  }

  /** Tasks run at once. */
  get concurrency(): number {
    return this.#concurrency
  }

  /** Whether a task may name `module` (its URL or specifier). */
  allows(module: string): boolean {
    let key = module
    try {
      if (/^[a-zA-Z][a-zA-Z\d+.-]+:/.test(module)) key = new URL(module).href
    } catch {
      return false
    }
    if (this.#allowExact.has(key)) return true
    return this.#allowPrefixes.some((prefix) => key.startsWith(prefix))
  }

  /** Connects, creates the stream and the shared consumer when missing, and starts pulling tasks. */
  async start(): Promise<void> {
    if (this.#running) return
    const nc = await connectNats(this.#connection, this.label)
    this.#nc = nc
    try {
      await ensureStream(nc, this.#names.stream, this.#names.taskWildcard)
      const { js } = await loadNats()
      const jsm = await js.jetstreamManager(nc)
      const config = {
        durable_name: this.#names.consumer,
        ack_policy: js.AckPolicy.Explicit,
        ack_wait: this.#ackWait * 1_000_000,
        // One more than ours: the delivery past the limit reaches a worker, which fails it clearly.
        max_deliver: this.#maxDeliver + 1,
        max_ack_pending: -1,
      }
      try {
        await jsm.consumers.info(this.#names.stream, this.#names.consumer)
        await jsm.consumers.update(this.#names.stream, this.#names.consumer, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: -1 })
      } catch {
        try {
          await jsm.consumers.add(this.#names.stream, config)
        } catch (error) {
          // A worker started at the same moment created it.
          await jsm.consumers.info(this.#names.stream, this.#names.consumer).catch(() => {
            throw new ClusterError(`Cannot create the consumer ${this.#names.consumer}: ${(error as Error).message}`, { cause: error })
          })
        }
      }
      this.#consumer = await js.jetstream(nc).consumers.get(this.#names.stream, this.#names.consumer)
      nc.subscribe(this.#names.cancelSubject, { callback: (error, msg) => (error === null ? this.#onCancel(msg.data) : undefined) })
      await nc.flush()
    } catch (error) {
      await nc.close().catch(() => {})
      throw error instanceof ClusterError ? error : new ClusterError(`Cannot start the worker: ${(error as Error)?.message ?? error}`, { cause: error })
    }
    this.#local = new ThreadPoolExecutor({ maxWorkers: this.#concurrency, ...(this.#execArgv !== undefined ? { execArgv: this.#execArgv } : {}) })
    // Start every thread now (a task with a signal gets a thread of its own), so the first tasks find them ready.
    await Promise.all(Array.from({ length: this.#concurrency }, () => this.#warmUp()))
    this.#running = true
    const beat = Math.max(50, Math.floor(this.#ackWait / 3))
    this.#heartbeat = setInterval(() => this.#beat(), beat)
    this.#pull()
    this.#log(`${this.label} ready: ${this.#concurrency} threads, stream ${this.#names.stream}`)
  }

  /**
   * Stops taking tasks, lets the held ones finish (up to `graceMs`), then
   * closes. Tasks not finished by then are left to JetStream, which
   * redelivers them to another worker.
   */
  stop(graceMs = 30_000): Promise<void> {
    this.#stopped ??= (async () => {
      this.#running = false
      if (this.#held.size > 0) {
        await Promise.race([new Promise<void>((r) => this.#idleWaiters.push(r)), new Promise((r) => setTimeout(r, graceMs).unref())])
      }
      clearInterval(this.#heartbeat)
      for (const held of this.#held) if (!held.done) held.msg.nak()
      await this.#nc?.drain().catch(() => {})
      await this.#local?.terminateWorkers()
    })()
    return this.#stopped
  }

  /** Resolves when the connection closes for good. */
  async closed(): Promise<void> {
    await this.#nc?.closed()
  }

  /** Runs a no-op on a thread of its own: starts a thread when fewer than `concurrency` run. */
  #warmUp(): Promise<unknown> {
    return this.#local!.submitWith({ signal: new AbortController().signal }, WARM_UP).catch(() => {})
  }

  // ── allowlist ──

  #addAllowed(entry: string, root: string): void {
    if (/^[a-zA-Z][a-zA-Z\d+.-]+:/.test(entry)) {
      const href = new URL(entry).href
      if (href.endsWith('/')) this.#allowPrefixes.push(href)
      else this.#allowExact.add(href)
      return
    }
    if (isAbsolute(entry) || entry.startsWith('.') || entry.includes('/') || existsSync(resolve(root, entry))) {
      const path = resolve(root, entry)
      const isDir = existsSync(path) && statSync(path).isDirectory()
      const href = pathToFileURL(path).href
      if (isDir) this.#allowPrefixes.push(href.endsWith('/') ? href : `${href}/`)
      else this.#allowExact.add(href)
      return
    }
    // A package name: the package itself and its subpaths.
    this.#allowExact.add(entry)
    this.#allowPrefixes.push(`${entry}/`)
  }

  #shareModules(value: unknown, out: Set<string>, seen = new Set<object>()): void {
    if (typeof value !== 'object' || value === null || seen.has(value)) return
    seen.add(value)
    const d = value as { $?: unknown; module?: unknown }
    if (d.$ === 'mp-share' && typeof d.module === 'string') {
      out.add(d.module)
      return
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return
    if (value instanceof Map) for (const [k, v] of value) (this.#shareModules(k, out, seen), this.#shareModules(v, out, seen))
    else if (value instanceof Set) for (const v of value) this.#shareModules(v, out, seen)
    else for (const key of Object.keys(value)) this.#shareModules((value as Record<string, unknown>)[key], out, seen)
  }

  // ── pulling ──

  #pull(): void {
    if (!this.#running || this.#consumer === null) return
    const want = this.#prefetch - this.#held.size - this.#requested
    if (want <= 0) return
    this.#requested += want
    const consumer = this.#consumer
    void (async () => {
      let received = 0
      try {
        const messages = await consumer.fetch({ max_messages: want, expires: 10_000 })
        for await (const msg of messages) {
          received++
          this.#requested--
          this.#onTaskMessage(msg)
        }
      } catch (error) {
        this.#log(`fetch failed: ${(error as Error)?.message ?? error}`)
        await new Promise((r) => setTimeout(r, 500))
      } finally {
        this.#requested -= want - received
      }
      this.#pull()
    })()
  }

  #onTaskMessage(msg: JsMsg): void {
    if (TRACE) this.#log(`message seq ${msg.seq} delivery ${msg.info.deliveryCount}`)
    let message: TaskMessage
    try {
      message = decode<TaskMessage>(msg.data)
    } catch (error) {
      this.#log(`dropped an unreadable task message: ${(error as Error).message}`)
      msg.term('unreadable')
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION || !Array.isArray(message.q)) {
      this.#log(`dropped a task message of protocol v${String(message.v)} (this worker speaks v${NATS_PROTOCOL_VERSION})`)
      msg.term('protocol version')
      return
    }
    const held: Held = { msg, session: message.s, open: new Set(message.q.map((u) => u.id)), controllers: new Map(), dead: false, done: false }
    this.#held.add(held)
    if (this.#dead.has(message.s)) {
      this.#markHeldDead(held)
      return
    }
    const deliveries = msg.info.deliveryCount
    if (deliveries > this.#maxDeliver) {
      for (const unit of message.q) {
        this.#result(
          held,
          unit.id,
          RESULT_ERROR,
          serializeError(
            new ClusterError(
              `Task ${labelOf(unit)} was delivered ${deliveries} times and never finished (every worker that took it died or hung): it is treated as a poison task and dropped`,
            ),
          ),
          -1,
        )
      }
      return
    }
    void this.#checkSession(message.s).then((alive) => {
      if (!alive) {
        this.#markSessionDead(message.s)
        return
      }
      if (message.q.length === 1) this.#runUnit(held, message.q[0]!)
      else this.#runBatch(held, message.q)
    })
  }

  /**
   * A message of several tasks (the caller packs bursts of tasks that have no
   * timeout or signal) runs as one local task on one thread. If that thread
   * crashes, the tasks run again one by one, so that only the culprit fails.
   */
  #runBatch(held: Held, units: TaskUnit[]): void {
    const runnable = units.filter((unit) => {
      if (this.#cancelled.has(`${held.session}/${unit.id}`)) {
        this.#finishUnit(held, unit.id)
        return false
      }
      return this.#checkAllowed(held, unit)
    })
    if (runnable.length === 0 || held.dead) return
    const controller = new AbortController()
    const key = runnable.map((u) => u.id).join(',')
    held.controllers.set(key, controller)
    this.#local!.submitWith({ signal: controller.signal }, RUN_BATCH, runnable.map((u) => [u.m, u.n, u.k, u.a, u.sh] as [string, string, number, unknown[], boolean])).then(
      (outcomes) => {
        held.controllers.delete(key)
        this.completed += runnable.length
        runnable.forEach((unit, i) => {
          const outcome = outcomes[i]!
          if (outcome.ok) this.#result(held, unit.id, RESULT_OK, outcome.v, outcome.ms)
          else this.#result(held, unit.id, RESULT_ERROR, outcome.e, outcome.ms)
        })
      },
      () => {
        held.controllers.delete(key)
        if (controller.signal.aborted) {
          this.#warmUp()
          for (const unit of runnable) this.#finishUnit(held, unit.id)
          return
        }
        for (const unit of runnable) this.#runUnit(held, unit)
      },
    )
  }

  /**
   * Fails the task with ModuleNotAllowedError unless its module (and its
   * shareables') are allowed. The library's own modules (`multiproc:` ids)
   * need no entry: the modules of its shareable types always pass, its tasks
   * when listed in library_tasks.ts, and the user modules such a task would
   * import must be on the allowlist like any task module.
   */
  #checkAllowed(held: Held, unit: TaskUnit): boolean {
    const refusal = this.#refusal(unit)
    if (refusal === null) return true
    this.#result(held, unit.id, RESULT_ERROR, serializeError(new ModuleNotAllowedError(refusal)), 0)
    return false
  }

  #refusal(unit: TaskUnit): string | null {
    const modules = new Set<string>()
    if (isLibraryModuleId(unit.m)) {
      const imports = libraryTaskImports(unit.m, unit.n, unit.k, unit.a)
      if (imports === null) return `${unit.m}#${unit.n} is not a library task that ${this.label} runs, so it was not loaded`
      for (const module of imports) {
        if (typeof module !== 'string') return `${unit.m}#${unit.n} names no user module (got ${String(module)}), so ${this.label} did not run it`
        modules.add(module)
      }
    } else {
      modules.add(unit.m)
    }
    const shared = new Set<string>()
    if (unit.sh) this.#shareModules(unit.a, shared)
    for (const module of shared) if (!isLibraryShareableModule(module)) modules.add(module)
    for (const module of modules) {
      if (isLibraryModuleId(module)) return `Library module ${module} is neither a user module nor one that defines a shareable type, so ${this.label} did not load it`
      if (!this.allows(module)) {
        return `Module ${module} is not on the allowlist of ${this.label}, so it was not loaded. Start the worker with --allow ${module.startsWith('file:') ? new URL(module).pathname : module} (or a directory holding it)`
      }
    }
    return null
  }

  #runUnit(held: Held, unit: TaskUnit): void {
    if (TRACE) this.#log(`run ${held.session}/${unit.id} ${unit.n} dead=${held.dead} cancelled=${this.#cancelled.has(`${held.session}/${unit.id}`)}`)
    if (held.dead) return
    if (this.#cancelled.has(`${held.session}/${unit.id}`)) {
      this.#finishUnit(held, unit.id)
      return
    }
    if (!this.#checkAllowed(held, unit)) return
    const controller = new AbortController()
    held.controllers.set(unit.id, controller)
    const label = labelOf(unit)
    if (unit.k === UNIT_CHUNK && !unit.sh) {
      this.#runChunk(held, unit, controller)
      return
    }
    this.#local!.submitWith({ signal: controller.signal, retries: unit.r }, RUN_TASK, unit.m, unit.n, unit.k, unit.a, unit.sh).then(
      (outcome) => {
        held.controllers.delete(unit.id)
        this.completed++
        if (outcome.ok) this.#result(held, unit.id, RESULT_OK, outcome.v, outcome.ms)
        else this.#result(held, unit.id, RESULT_ERROR, outcome.e, outcome.ms)
      },
      (error: unknown) => {
        held.controllers.delete(unit.id)
        if (controller.signal.aborted) {
          // Stopped on the caller's request (or the caller is gone): nobody waits for this result.
          // Its thread was terminated: start the replacement now, not when the next task needs it.
          this.#warmUp()
          this.#finishUnit(held, unit.id)
          return
        }
        this.#result(held, unit.id, RESULT_ERROR, relabel(error, label), -1)
      },
    )
  }

  /**
   * A chunk runs as a chunk of the local pool, item by item: when a thread
   * dies in it, the items that finished keep their values, only the running
   * one fails (or runs again under the unit's retries, counted per item) and
   * the rest runs on a new thread (pool_executor.ts). The caller gets the
   * whole chunk in one result, so a chunk redelivered after this worker died
   * starts over and nothing reaches the caller twice.
   */
  #runChunk(held: Held, unit: TaskUnit, controller: AbortController): void {
    let future
    try {
      future = this.#local!.submitChunk(resolveTask(task(resolveModule(unit.m), unit.n)), unit.a as unknown[][], unit.r)
    } catch (error) {
      held.controllers.delete(unit.id)
      this.#result(held, unit.id, RESULT_ERROR, serializeError(error), -1)
      return
    }
    // Only a chunk still queued can be stopped; a running one finishes and its result is dropped.
    controller.signal.addEventListener('abort', () => future.cancel(), { once: true })
    future.then(
      (result) => {
        held.controllers.delete(unit.id)
        this.completed++
        const outcome: ChunkWireOutcome = { v: result.values, e: undefined, d: result.ms }
        if (result.errors !== undefined) for (const [i, error] of result.errors) (outcome.e ??= []).push([i, serializeError(error)])
        this.#result(held, unit.id, RESULT_OK, outcome, result.ms / Math.max(1, result.values.length))
      },
      (error: unknown) => {
        held.controllers.delete(unit.id)
        if (controller.signal.aborted) {
          this.#finishUnit(held, unit.id)
          return
        }
        this.#result(held, unit.id, RESULT_ERROR, serializeError(error), -1)
      },
    )
  }

  // ── results ──

  #result(held: Held, id: string, status: number, value: unknown, ms: number): void {
    if (held.dead || !held.open.has(id)) {
      this.#finishUnit(held, id)
      return
    }
    const session = this.#session(held.session)
    session.outbox.push(id, status, value, ms)
    session.outboxHeld.push(held)
    if (!session.flushScheduled) {
      session.flushScheduled = true
      setImmediate(() => this.#flush(held.session))
    }
  }

  #flush(sessionId: string): void {
    const session = this.#session(sessionId)
    session.flushScheduled = false
    if (session.outbox.length === 0) return
    const r = session.outbox
    const helds = session.outboxHeld
    session.outbox = []
    session.outboxHeld = []
    const nc = this.#nc!
    const max = (nc.info?.max_payload ?? 1024 * 1024) - 4096
    const batches: { r: unknown[]; helds: Held[] }[] = []
    const encodeBatch = (rs: unknown[]): Uint8Array | null => {
      try {
        const data = encode({ v: NATS_PROTOCOL_VERSION, t: 'results', w: this.label, r: rs } satisfies ToCaller)
        return data.length <= max ? data : null
      } catch {
        return null
      }
    }
    const whole = encodeBatch(r)
    const datas: Uint8Array[] = []
    if (whole !== null) {
      datas.push(whole)
      batches.push({ r, helds })
    } else {
      for (let i = 0; i < r.length; i += 4) {
        let one = r.slice(i, i + 4)
        let data = encodeBatch(one)
        if (data === null) {
          const reason = 'the result is larger than the server max_payload or cannot be serialized'
          one = [r[i], RESULT_ERROR, serializeError(new SerializationError(`The task's result cannot be sent back to the caller: ${reason}`, { argIndex: -1, path: 'result', reason })), r[i + 3]]
          data = encodeBatch(one)!
        }
        datas.push(data)
        batches.push({ r: one, helds: [helds[i / 4]!] })
      }
    }
    batches.forEach((batch, i) => {
      nc.request(this.#names.sessionSubject(sessionId), datas[i]!, { timeout: 5_000 }).then(
        () => {
          session.lastSeen = performance.now()
          session.firstFailure = 0
          for (let j = 0; j < batch.helds.length; j++) this.#finishUnit(batch.helds[j]!, batch.r[4 * j] as string)
        },
        (error: unknown) => {
          if (TRACE) this.#log(`results to ${sessionId} failed: ${(error as Error)?.message}`)
          // Unreachable for now (server restarting, caller busy): try again, within the session
          // timeout; no responder at all means the caller is gone, after a short grace (see #ping).
          const now = performance.now()
          if (session.firstFailure === 0) session.firstFailure = now
          if (isNoResponders(error) && now - session.firstFailure > Math.min(this.#sessionTimeout, GONE_GRACE_MS)) {
            this.#markSessionDead(sessionId)
            return
          }
          if (now - session.firstFailure > this.#sessionTimeout) {
            this.#log(`caller ${sessionId} unreachable for ${this.#sessionTimeout} ms; its tasks go back to the stream`)
            this.#markSessionDead(sessionId, false)
            return
          }
          setTimeout(() => {
            for (let j = 0; j < batch.helds.length; j++) {
              const held = batch.helds[j]!
              if (held.dead) continue
              session.outbox.push(...batch.r.slice(4 * j, 4 * j + 4))
              session.outboxHeld.push(held)
            }
            if (!session.flushScheduled) {
              session.flushScheduled = true
              setImmediate(() => this.#flush(sessionId))
            }
          }, 500).unref()
        },
      )
    })
  }

  #finishUnit(held: Held, id: string): void {
    if (TRACE) this.#log(`finish ${held.session}/${id} open=${held.open.has(id)} left=${held.open.size} dead=${held.dead}`)
    if (!held.open.delete(id) || held.open.size > 0 || held.done) return
    held.done = true
    if (held.dead) held.msg.term('caller gone')
    else held.msg.ack()
    this.#held.delete(held)
    if (this.#held.size === 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
    this.#pull()
  }

  // ── sessions ──

  #session(id: string): Session {
    let session = this.#sessions.get(id)
    if (session === undefined) {
      session = { lastSeen: 0, firstFailure: 0, checking: null, outbox: [], outboxHeld: [], flushScheduled: false }
      this.#sessions.set(id, session)
    }
    return session
  }

  /** True when the caller answers (or answered recently); false when it is gone. */
  #checkSession(id: string): Promise<boolean> {
    const session = this.#session(id)
    if (performance.now() - session.lastSeen < this.#ackWait / 3) return Promise.resolve(true)
    session.checking ??= this.#ping(id).finally(() => (session.checking = null))
    return session.checking
  }

  async #ping(id: string): Promise<boolean> {
    const session = this.#session(id)
    for (;;) {
      try {
        await this.#nc!.request(this.#names.sessionSubject(id), encode({ v: NATS_PROTOCOL_VERSION, t: 'ping' } satisfies ToCaller), { timeout: 2_000 })
        session.lastSeen = performance.now()
        session.firstFailure = 0
        return true
      } catch (error) {
        const now = performance.now()
        if (session.firstFailure === 0) session.firstFailure = now
        // No responder: the caller is gone, unless it is only resubscribing after a
        // reconnect (a server restart), so it is asked again for a short grace period.
        const limit = isNoResponders(error) ? Math.min(this.#sessionTimeout, GONE_GRACE_MS) : this.#sessionTimeout
        if (now - session.firstFailure > limit || this.#nc!.isClosed()) return false
        await new Promise((r) => setTimeout(r, 250))
      }
    }
  }

  #markSessionDead(id: string, gone = true): void {
    if (TRACE) this.#log(`session ${id} dead (gone=${gone})`)
    if (gone) this.#rememberDead(id)
    for (const held of [...this.#held]) if (held.session === id) this.#markHeldDead(held, gone)
    const session = this.#sessions.get(id)
    if (session !== undefined) {
      session.outbox = []
      session.outboxHeld = []
    }
    this.#sessions.delete(id)
  }

  #markHeldDead(held: Held, gone = true): void {
    if (held.done) return
    held.dead = true
    for (const controller of held.controllers.values()) controller.abort()
    if (!gone) {
      // Not clearly gone: leave the tasks to JetStream (redelivered later), rather than drop them.
      held.done = true
      held.msg.nak(1_000)
      this.#held.delete(held)
      this.#pull()
      return
    }
    for (const id of [...held.open]) this.#finishUnit(held, id)
  }

  #rememberDead(id: string): void {
    const now = performance.now()
    this.#dead.set(id, now)
    if (this.#dead.size > 10_000) for (const [key, at] of this.#dead) if (now - at > CANCELLED_KEEP_MS || this.#dead.size > 10_000) this.#dead.delete(key)
  }

  #onCancel(data: Uint8Array): void {
    let message: CancelMessage
    try {
      message = decode<CancelMessage>(data)
    } catch {
      return
    }
    if (message.v !== NATS_PROTOCOL_VERSION) return
    if (message.all) {
      this.#markSessionDead(message.s)
      return
    }
    const now = performance.now()
    for (const id of message.ids) this.#cancelled.set(`${message.s}/${id}`, now)
    if (this.#cancelled.size > CANCELLED_MAX) {
      for (const [key, at] of this.#cancelled) if (now - at > CANCELLED_KEEP_MS || this.#cancelled.size > CANCELLED_MAX) this.#cancelled.delete(key)
    }
    for (const held of this.#held) {
      if (held.session !== message.s) continue
      for (const id of message.ids) held.controllers.get(id)?.abort()
    }
  }

  /** In-progress signals for every held message, and pings for the callers they belong to. */
  #beat(): void {
    if (TRACE && this.#held.size > 0) this.#log(`beat held=${this.#held.size} requested=${this.#requested} local=${JSON.stringify(this.#local?.stats())}`)
    const sessions = new Set<string>()
    for (const held of this.#held) {
      if (held.done || held.dead) continue
      held.msg.working()
      sessions.add(held.session)
    }
    for (const id of sessions) {
      const session = this.#session(id)
      if (session.checking !== null) continue
      session.checking = this.#ping(id).then(
        (alive) => {
          session.checking = null
          if (!alive) this.#markSessionDead(id)
          return alive
        },
        () => {
          session.checking = null
          return true
        },
      )
    }
  }
}

function labelOf(unit: TaskUnit): string {
  const slash = unit.m.lastIndexOf('/')
  return `${unit.n} (${slash >= 0 ? unit.m.slice(slash + 1) : unit.m})`
}

function isNoResponders(error: unknown): boolean {
  const e = error as { isNoResponders?: () => boolean; name?: string; cause?: unknown; message?: string }
  if (typeof e?.isNoResponders === 'function' && e.isNoResponders()) return true
  if (e?.name === 'NoRespondersError' || (e?.cause as { name?: string })?.name === 'NoRespondersError') return true
  return /no responders/i.test(String(e?.message))
}

/** An error of the local pool names the wrapper task; name the real one. */
function relabel(error: unknown, label: string): SerializedValue {
  if (error instanceof WorkerCrashedError) {
    const message = error.message.split(RUN_TASK_LABEL).join(label)
    Object.defineProperty(error, 'message', { value: message, writable: true, configurable: true })
    ;(error as { task: string | undefined }).task = label
    if (typeof error.stack === 'string') Object.defineProperty(error, 'stack', { value: error.stack.split(RUN_TASK_LABEL).join(label), writable: true, configurable: true })
  }
  return serializeError(error)
}

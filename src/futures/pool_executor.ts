/**
 * PoolExecutor: the scheduler behind ThreadPoolExecutor, ProcessPoolExecutor,
 * InlineExecutor and Pool. It knows nothing of how a worker starts (that is
 * the backend's job); it owns the queue, the workers' in-flight lists, and
 * every Future until it settles.
 *
 *   submit() ─▶ TaskFuture ─▶ queue ─▶ pump() ─▶ batch ─▶ backend worker
 *                  ▲                      │ (microtask, coalesces a burst of submits)
 *                  │                      └─ spawns workers on demand, up to maxWorkers
 *                  └──── settle ◀── 'done' message (results in FIFO order) ◀─┘
 *
 * Batching. A worker holds up to `limit` tasks in flight; `limit` follows an
 * EWMA of measured task time so that a worker's backlog is ~2 ms of work:
 * no-op tasks travel 1024 to a message, 100 ms tasks one by one (then load
 * balancing is perfect and the extra round trip is < 1 % of the task). Tasks
 * under 50 ms are prefetched (2 in flight at least) so a worker never waits a
 * round trip for its next task. A fresh executor starts at 1 until the first
 * results arrive.
 *
 * Killable tasks. A task with a timeout or a signal is "exclusive": it is
 * sent only to a worker with nothing else in flight, and nothing else is
 * sent there until it settles, so stopping it (terminating the worker) hurts
 * no other task. While one waits at the head of the queue, other workers are
 * not topped up, so one of them drains within a batch horizon.
 *
 * Worker loss. The thread backend shares [started, finished] counters with
 * each worker. When a worker dies, its in-flight list splits exactly into:
 * finished (result lost in the ≤ 1 ms flush window: run again), running (fails
 * with WorkerCrashedError, or is retried under `retries`), and not started
 * (re-queued at the front, order kept). Nothing is ever lost or left pending.
 * The process backend has no shared memory; it reads the same counters
 * from a small file the worker updates before each task.
 *
 * Chunks. A third counter holds the index of the chunk item that started
 * last, and a long chunk sends its finished values ahead (runtime.ts). When
 * a worker dies in a chunk, the values that arrived stay, the running item
 * fails (or is retried: `retries` counts per item), and the items without a
 * value are sent again as the rest of the same chunk, which settles once
 * every item has an outcome (chunk_progress.ts).
 *
 * Nesting. Workers count against a per-thread worker budget and pass each
 * worker its share, so pools created inside tasks do not multiply (see
 * internal/worker_budget.ts).
 */
import type { ResourceLimits } from 'node:worker_threads'
import {
  BrokenExecutorError,
  CancelledError,
  SerializationError,
  TimeoutError,
  WorkerCrashedError,
  invalidArgType,
} from '../errors.js'
import { Deque } from '../internal/deque.js'
import {
  abortSignal,
  knownKeys,
  nonNegativeInteger,
  optionalTimeout,
  plainObject,
  positiveInteger,
  timeoutMs,
  boolean,
} from '../internal/validate.js'
import { cpuCount } from '../cpu_count.js'
import { BUDGET_ENV, workerBudget } from '../internal/worker_budget.js'
import { resolveTask, type ResolvedTask, type Task, type TaskFunction } from '../task_ref.js'
import type { Backend, WorkerExit, WorkerHandle } from '../backends/backend.js'
import {
  KIND_CALL,
  KIND_CHUNK,
  FLAG_FLAT,
  FLAG_SHARED,
  PROTOCOL_VERSION,
  STATUS_OK,
  type ChunkOutcome,
  type FromWorker,
  type FunctionDecl,
  type TaskKind,
} from '../wire/messages.js'
import { deserializeError, type SerializedValue } from '../wire/remote_error.js'
import { findUncloneable, type Transferable } from '../wire/codec.js'
import { encodeShareables, type ShareTarget } from '../wire/shareable.js'
import { Executor, type ChunkResult, type ShutdownOptions, type SubmitOptions } from './executor.js'
import { Future, kForceCancel, kRequeue } from './future.js'
import { COUNTER_FINISHED, COUNTER_ITEM, COUNTER_STARTED } from '../worker/runtime.js'
import { ChunkProgress } from './chunk_progress.js'

/** Options shared by every local executor. */
export interface PoolExecutorOptions {
  /** Workers at most. Default `cpuCount()`. Workers start on demand. */
  maxWorkers?: number
  /** An exported function (or `task()` reference) run once in every worker before its first task. */
  initializer?: Task
  /** Arguments for `initializer`. */
  initargs?: unknown[]
  /** Replace a worker after it ran this many tasks (a map chunk counts as one). Default: never. */
  maxTasksPerChild?: number
  /** Memory limits of each worker (thread backend), as `worker_threads` takes them. */
  resourceLimits?: ResourceLimits
  /** Stop a worker after it was idle this many milliseconds. Default: keep it (idle workers never keep the process alive). */
  idleTimeout?: number
  /** How many times a task whose worker crashed is run again before it fails. Default 0. */
  retries?: number
  /** Node options for workers. Default: the caller's `execArgv` without per-process ones (inspector, profiler). */
  execArgv?: string[]
  /** Environment of the workers. Default: a copy of `process.env`. */
  env?: NodeJS.ProcessEnv
}

const OPTION_KEYS = [
  'maxWorkers',
  'initializer',
  'initargs',
  'maxTasksPerChild',
  'resourceLimits',
  'idleTimeout',
  'retries',
  'execArgv',
  'env',
] as const
const SUBMIT_KEYS = ['timeout', 'signal', 'transfer', 'retries'] as const

/** Target backlog per worker, in milliseconds of measured task time. */
const BACKLOG_MS = 2
/** Tasks in flight per worker at most, and per message at most. */
const MAX_INFLIGHT = 1024
const MAX_BATCH = 512
/**
 * Tasks shorter than this (measured) are prefetched: a worker holds one more
 * than it runs, so it does not sit idle for a round trip (and the caller's
 * serialisation of the next task) between tasks. Longer ones go one at a
 * time, where that gap is noise and a task queued behind a long one would
 * cost more than it saves.
 */
const PREFETCH_BELOW_MS = 50
/** Workers that die before they are ready, in a row, before the executor gives up. */
const MAX_START_FAILURES = 3
/** How long a worker asked to stop may take before it is terminated. */
const STOP_GRACE_MS = 5000

type ExecutorState = 'RUNNING' | 'SHUTDOWN' | 'BROKEN'

const captureCallerStacks = process.env.MULTIPROC_CALLER_STACKS === '1'

class TaskFuture<T = unknown> extends Future<T> {
  args: unknown[] | null
  /** The arguments hold share descriptors (a Lock, a Queue...) the worker must revive. */
  shared = false
  /** A chunk whose args are the items themselves, one argument each (FLAG_FLAT). */
  flat = false
  slot: WorkerSlot | null = null
  timer: NodeJS.Timeout | undefined = undefined
  onAbort: (() => void) | undefined = undefined
  callerStack: string | undefined = undefined
  /** A chunk's outcome so far, once it came in pieces or its worker crashed (chunk_progress.ts). */
  progress: ChunkProgress | null = null

  constructor(
    readonly task: ResolvedTask,
    readonly kind: TaskKind,
    args: unknown[],
    readonly transfer: readonly Transferable[] | undefined,
    readonly exclusive: boolean,
    public retries: number,
    readonly signal: AbortSignal | undefined,
    readonly timeout: number | undefined,
  ) {
    super()
    this.args = args
  }
}

class WorkerSlot {
  handle!: WorkerHandle
  readonly inflight = new Deque<TaskFuture>()
  readonly known = new Set<number>()
  ready = false
  received = 0
  dispatched = 0
  exclusive = false
  retiring = false
  stopping = false
  killed = false
  refd = false
  budgeted = false
  fatal: unknown = undefined
  idleTimer: NodeJS.Timeout | undefined = undefined
  stopTimer: NodeJS.Timeout | undefined = undefined
}

/**
 * The executor over a local backend. Use ThreadPoolExecutor,
 * ProcessPoolExecutor or InlineExecutor; this class holds what they share.
 */
export class PoolExecutor extends Executor {
  readonly #backend: Backend
  readonly #maxWorkers: number
  readonly #initializer: ResolvedTask | null
  readonly #initargs: unknown[]
  readonly #initargsShared: boolean
  readonly #maxTasksPerChild: number
  readonly #resourceLimits: ResourceLimits | undefined
  readonly #idleTimeout: number
  readonly #retries: number
  readonly #execArgv: string[] | undefined
  readonly #env: NodeJS.ProcessEnv | undefined

  readonly #queue = new Deque<TaskFuture>()
  readonly #slots = new Set<WorkerSlot>()
  readonly #fnIndex = new Map<string, number>()
  readonly #fnDecls: FunctionDecl[] = []
  readonly #verifying = new Set<TaskFuture>()
  #state: ExecutorState = 'RUNNING'
  #brokenError: BrokenExecutorError | null = null
  #pumpScheduled = false
  #pending = 0
  #avgTaskMs = NaN
  #startFailures = 0
  #idleWaiters: (() => void)[] = []
  #exitWaiters: (() => void)[] = []
  readonly #pumpBound = (): void => this.#pump()
  readonly #onTaskDone = (f: Future<unknown>): void => {
    const task = f as TaskFuture
    this.#pending--
    if (task.timer !== undefined) clearTimeout(task.timer)
    if (task.onAbort !== undefined) task.signal!.removeEventListener('abort', task.onAbort)
    task.args = null
    if (this.#pending === 0) this.#whenIdle()
  }

  constructor(backend: Backend, options: PoolExecutorOptions = {}, defaults: { maxWorkers?: number; what?: string } = {}) {
    super()
    const what = defaults.what ?? 'the executor'
    const opts = plainObject('options', options)
    knownKeys(what, opts, OPTION_KEYS)
    this.#backend = backend
    const maxWorkers = opts.maxWorkers === undefined ? (defaults.maxWorkers ?? cpuCount()) : positiveInteger('maxWorkers', opts.maxWorkers)
    // Inside a worker, nested executors get the worker's share (internal/worker_budget.ts).
    this.#maxWorkers = backend.capabilities.isolated ? workerBudget.cap(maxWorkers) : maxWorkers
    this.#initializer = opts.initializer === undefined || opts.initializer === null ? null : resolveTask(opts.initializer, 'initializer')
    if (opts.initargs !== undefined && !Array.isArray(opts.initargs)) {
      throw invalidArgType(`Expected \`initargs\` to be an array, got ${typeof opts.initargs}`)
    }
    const initargs = (opts.initargs as unknown[] | undefined) ?? []
    const found = { shareables: 0 }
    initargs.forEach((arg, i) => this.#checkArg(arg, i, 'initargs', undefined, undefined, found))
    this.#initargsShared = found.shareables > 0
    this.#initargs = this.#initargsShared ? (encodeShareables(initargs, this.#shareTarget) as unknown[]) : initargs
    this.#maxTasksPerChild = opts.maxTasksPerChild === undefined ? Infinity : positiveInteger('maxTasksPerChild', opts.maxTasksPerChild)
    this.#resourceLimits = opts.resourceLimits as ResourceLimits | undefined
    this.#idleTimeout = opts.idleTimeout === undefined ? Infinity : timeoutMs('idleTimeout', opts.idleTimeout)
    this.#retries = opts.retries === undefined ? 0 : nonNegativeInteger('retries', opts.retries)
    if (opts.execArgv !== undefined && (!Array.isArray(opts.execArgv) || !opts.execArgv.every((a) => typeof a === 'string'))) {
      throw invalidArgType('Expected `execArgv` to be an array of strings')
    }
    this.#execArgv = opts.execArgv as string[] | undefined
    this.#env = opts.env as NodeJS.ProcessEnv | undefined
  }

  /** Workers at most. */
  get maxWorkers(): number {
    return this.#maxWorkers
  }

  /** The backend's name: 'thread', 'process' or 'inline'. */
  get backend(): string {
    return this.#backend.name
  }

  /** A snapshot of the executor's activity. */
  stats(): {
    /** Workers alive (started on demand, up to `maxWorkers`). */
    workers: number
    /** Tasks waiting for a worker. */
    queued: number
    /** Tasks handed to workers and not finished. */
    running: number
    /** Futures not settled yet (queued and running). */
    pending: number
    /** 'RUNNING', or the stage of shutting down. */
    state: ExecutorState
  } {
    let running = 0
    for (const slot of this.#slots) running += slot.inflight.length
    return { workers: this.#slots.size, queued: this.#queue.length + this.#verifying.size, running, pending: this.#pending, state: this.#state }
  }

  protected checkOpen(): void {
    if (this.#state === 'RUNNING') return
    if (this.#brokenError !== null) throw this.#brokenError
    throw new BrokenExecutorError('Cannot submit new tasks after shutdown()')
  }

  submitWith<F extends TaskFunction>(options: SubmitOptions | undefined, fn: Task<F>, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    this.checkOpen()
    // The first worker boots while the task is resolved (a function's first lookup takes milliseconds).
    if (this.#slots.size === 0) this.#spawn()
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
    for (let i = 0; i < args.length; i++) this.#checkArg(args[i], i, 'args', transfer, task, found)
    if (found.shareables > 0) args = encodeShareables(args, this.#shareTarget) as typeof args
    if (transfer !== undefined && transfer.length > 0) {
      // Move now, as postMessage would: the caller's buffers are detached at
      // submit, and this executor owns the moved memory until dispatch.
      ;[args, transfer] = structuredClone([args, transfer], { transfer: transfer as Transferable[] }) as [typeof args, Transferable[]]
    }
    const f = new TaskFuture<Awaited<ReturnType<F>>>(task, KIND_CALL, args, transfer, timeout !== undefined || signal !== undefined, retries, signal, timeout)
    f.shared = found.shareables > 0
    if (captureCallerStacks) f.callerStack = new Error().stack
    if (signal?.aborted) {
      f[kForceCancel](new CancelledError('The task was not started: its signal was already aborted', { cause: signal.reason }))
      return f
    }
    this.#enqueue(f as TaskFuture)
    return f
  }

  /** `retries`: runs again of an item whose worker crashed (default: the executor's). */
  submitChunk(task: ResolvedTask, argsList: unknown[][], retries?: number): Future<ChunkResult> {
    return this.#submitChunk(task, argsList, false, retries)
  }

  /**
   * A chunk of one-argument calls `fn(item)`: the items travel as one flat
   * array, with no argument array per item.
   * @internal used by Pool's map
   */
  submitItems(task: ResolvedTask, items: unknown[]): Future<ChunkResult> {
    return this.#submitChunk(task, items, true)
  }

  #submitChunk(task: ResolvedTask, argsList: unknown[], flat: boolean, retries = this.#retries): Future<ChunkResult> {
    this.checkOpen()
    const found = { shareables: 0 }
    let problem: { path: string; reason: string } | null = null
    let problemArg = 0
    outer: for (let i = 0; i < argsList.length; i++) {
      const args = flat ? argsList : (argsList[i] as unknown[])
      for (let j = flat ? i : 0; j < (flat ? i + 1 : args.length); j++) {
        const arg = args[j]
        if (arg === null || (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol')) continue
        problem = findUncloneable(arg, `item[${i}] argument ${flat ? 0 : j}`, undefined, this.#backend.capabilities.sharedMemory, found)
        if (problem !== null) {
          problemArg = flat ? 0 : j
          break outer
        }
      }
    }
    const list = found.shareables > 0 ? (encodeShareables(argsList, this.#shareTarget) as unknown[]) : argsList
    const f = new TaskFuture<ChunkResult>(task, KIND_CHUNK, list, undefined, false, retries, undefined, undefined)
    f.shared = found.shareables > 0
    f.flat = flat
    if (problem !== null) {
      f.setException(this.#serializationError(problem, problemArg, task))
      return f
    }
    this.#enqueue(f as TaskFuture)
    return f
  }

  /** What shareable arguments (wire/shareable.ts) are encoded for. */
  get #shareTarget(): ShareTarget {
    return { ...this.#backend.capabilities, backend: this.#backend.name }
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
    if (this.#slots.size > 0) await new Promise<void>((resolve) => this.#exitWaiters.push(resolve))
  }

  /**
   * Stops every worker now, whatever it is doing, and settles every pending
   * Future with CancelledError: queued tasks are cancelled, running ones are
   * stopped with their workers (processes get SIGTERM, then SIGKILL after a
   * second). The executor accepts no more tasks. Resolves once every worker
   * has exited; never waits for a task. Python 3.14's
   * `ProcessPoolExecutor.terminate_workers()`; `Pool.terminate()` uses it.
   *
   * @example
   * process.once('SIGINT', () => void executor.terminateWorkers())
   */
  async terminateWorkers(): Promise<void> {
    if (this.#state === 'RUNNING') this.#state = 'SHUTDOWN'
    const notStarted = new CancelledError('The task was cancelled before it started: its executor was terminated')
    for (const f of this.#queue.drain()) f[kForceCancel](notStarted)
    for (const f of [...this.#verifying]) f[kForceCancel](notStarted)
    for (const slot of this.#slots) {
      for (const f of slot.inflight) {
        if (!f.done()) f[kForceCancel](new CancelledError(`Task ${f.task.label} was stopped: its executor was terminated`))
      }
      if (!slot.killed) {
        slot.killed = true
        slot.handle.terminate()
      }
    }
    if (this.#slots.size > 0) await new Promise<void>((resolve) => this.#exitWaiters.push(resolve))
  }

  // ── submission ──

  #checkArg(arg: unknown, index: number, where: string, transfer?: readonly Transferable[], task?: ResolvedTask, found?: { shareables: number }): void {
    if (arg === null || (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol')) return
    const problem = findUncloneable(arg, `${where}[${index}]`, transfer, this.#backend.capabilities.sharedMemory, found)
    if (problem !== null) throw this.#serializationError(problem, index, task)
  }

  #serializationError(problem: { path: string; reason: string }, index: number, task: ResolvedTask | undefined): SerializationError {
    return new SerializationError(
      `Cannot send argument ${index}${task ? ` of task ${task.label}` : ''} to a worker: ${problem.reason}`,
      { argIndex: index, path: problem.path, reason: problem.reason },
    )
  }

  #enqueue(f: TaskFuture): void {
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
      // First use of a function from a module not loaded yet: confirm its export name first.
      this.#verifying.add(f)
      verified.then(
        () => {
          this.#verifying.delete(f)
          if (f.done()) return
          if (this.#state === 'BROKEN') f.setException(this.#brokenError)
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
    // Nothing queued and a worker idle: send it now, without the hop through
    // the queue and a microtask (this is the idle round trip). A burst still
    // batches: only one task per idle worker goes this way.
    if (this.#queue.length === 0 && !f.exclusive) {
      const slot = this.#idleSlot()
      if (slot !== null && f.setRunningOrNotifyCancel()) {
        this.#dispatch(slot, [f])
        return
      }
    }
    this.#queue.push(f)
    this.#schedulePump()
  }

  #idleSlot(): WorkerSlot | null {
    for (const slot of this.#slots) {
      if (slot.inflight.length === 0 && !slot.exclusive && !slot.retiring && !slot.stopping && !slot.killed) return slot
    }
    return null
  }

  #stopTask(f: TaskFuture, why: 'timeout' | 'abort'): void {
    if (f.done()) return
    const running = f.state === 'RUNNING' && f.slot !== null
    if (why === 'timeout') {
      f.setException(
        new TimeoutError(
          `Task ${f.task.label} timed out after ${f.timeout} ms ${running ? `while running; ${f.slot!.handle.label} was stopped and replaced` : 'before it started'}`,
        ),
      )
    } else {
      f[kForceCancel](
        new CancelledError(
          running
            ? `Task ${f.task.label} was cancelled while running: its signal was aborted; ${f.slot!.handle.label} was stopped and replaced`
            : `Task ${f.task.label} was cancelled before it started: its signal was aborted`,
          { cause: f.signal!.reason },
        ),
      )
    }
    if (running) {
      const slot = f.slot!
      slot.killed = true
      slot.handle.terminate()
    }
  }

  // ── dispatch ──

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    queueMicrotask(this.#pumpBound)
  }

  #limit(): number {
    if (Number.isNaN(this.#avgTaskMs)) return 1
    if (this.#avgTaskMs <= 0) return MAX_INFLIGHT
    const least = this.#avgTaskMs < PREFETCH_BELOW_MS ? 2 : 1
    return Math.max(least, Math.min(MAX_INFLIGHT, Math.floor(BACKLOG_MS / this.#avgTaskMs)))
  }

  #pump(): void {
    this.#pumpScheduled = false
    if (this.#state === 'BROKEN') return
    const queue = this.#queue
    const limit = this.#limit()
    while (queue.length > 0) {
      const head = queue.peek()!
      if (head.done()) {
        queue.shift()
        continue
      }
      if (head.exclusive) {
        const slot = this.#emptySlot() ?? this.#spawn()
        if (slot === null) return // wait for a worker to drain; the others are not topped up meanwhile
        queue.shift()
        if (!head.setRunningOrNotifyCancel()) continue
        slot.exclusive = true
        this.#dispatch(slot, [head])
        continue
      }
      const candidates: WorkerSlot[] = []
      let idle = 0
      for (const slot of this.#slots) {
        if (slot.exclusive || slot.retiring || slot.stopping || slot.killed || slot.inflight.length >= limit) continue
        candidates.push(slot)
        if (slot.inflight.length === 0) idle++
      }
      // More queued tasks than idle workers: start workers (up to maxWorkers). Waiting
      // for none to be idle would let one idle worker take a whole burst when the
      // measured task time is stale (fast tasks, then slow ones).
      if (idle < queue.length) {
        const room = Math.min(this.#maxWorkers - this.#slots.size, queue.length - idle)
        for (let i = 0; i < room; i++) {
          const slot = this.#spawn()
          if (slot === null) break
          candidates.push(slot)
        }
      }
      if (candidates.length === 0) return
      if (candidates.length > 1) candidates.sort((a, b) => a.inflight.length - b.inflight.length)
      const share = Math.ceil(queue.length / candidates.length)
      let sent = 0
      for (const slot of candidates) {
        const room = Math.min(limit - slot.inflight.length, share, MAX_BATCH, this.#maxTasksPerChild - slot.dispatched)
        const batch = this.#takeBatch(room)
        if (batch.length === 0) break
        this.#dispatch(slot, batch)
        sent += batch.length
      }
      if (sent === 0 && !(queue.peek()?.exclusive ?? false)) return
    }
  }

  #emptySlot(): WorkerSlot | null {
    let best: WorkerSlot | null = null
    for (const slot of this.#slots) {
      if (slot.inflight.length > 0 || slot.exclusive || slot.retiring || slot.stopping || slot.killed) continue
      if (best === null || (slot.ready && !best.ready)) best = slot
    }
    return best
  }

  #takeBatch(room: number): TaskFuture[] {
    const queue = this.#queue
    const batch: TaskFuture[] = []
    while (batch.length < room && queue.length > 0) {
      const f = queue.peek()!
      if (f.done()) {
        queue.shift()
        continue
      }
      if (f.exclusive) break
      queue.shift()
      if (f.setRunningOrNotifyCancel()) batch.push(f)
    }
    return batch
  }

  #dispatch(slot: WorkerSlot, batch: TaskFuture[]): void {
    let decls: FunctionDecl[] | undefined
    let transfer: Transferable[] | undefined
    // Pushed, not preallocated: structured clone copies a packed array densely, a holey one index by index.
    const q: unknown[] = []
    for (let i = 0; i < batch.length; i++) {
      const f = batch[i]!
      let index = this.#fnIndex.get(f.task.key)
      if (index === undefined) {
        index = this.#fnDecls.length
        this.#fnIndex.set(f.task.key, index)
        this.#fnDecls.push([index, f.task.module, f.task.name])
      }
      if (!slot.known.has(index)) {
        slot.known.add(index)
        ;(decls ??= []).push(this.#fnDecls[index]!)
      }
      q.push(f.kind | (f.shared ? FLAG_SHARED : 0) | (f.flat ? FLAG_FLAT : 0), index, f.args)
      if (f.transfer !== undefined) for (const t of f.transfer) (transfer ??= []).push(t)
    }
    try {
      slot.handle.send({ t: 'run', f: decls, q }, transfer)
    } catch (error) {
      // The sync check missed something (or a buffer was detached meanwhile).
      if (decls !== undefined) for (const [index] of decls) slot.known.delete(index)
      if (batch.length === 1) {
        const f = batch[0]!
        const reason = (error as Error).message
        f.setException(new SerializationError(`Cannot send task ${f.task.label} to a worker: ${reason}`, { argIndex: -1, path: 'args', reason }, { cause: error }))
        return
      }
      for (const f of batch) this.#dispatch(slot, [f])
      return
    }
    for (const f of batch) {
      f.slot = slot
      slot.inflight.push(f)
    }
    slot.dispatched += batch.length
    if (slot.dispatched >= this.#maxTasksPerChild) slot.retiring = true
    if (slot.idleTimer !== undefined) {
      clearTimeout(slot.idleTimer)
      slot.idleTimer = undefined
    }
    if (!slot.refd) {
      slot.refd = true
      slot.handle.ref()
    }
  }

  // ── workers ──

  #spawn(): WorkerSlot | null {
    if (this.#slots.size >= this.#maxWorkers || this.#state === 'BROKEN') return null
    const budgeted = this.#backend.capabilities.isolated
    if (budgeted && !workerBudget.tryAcquire(this.#slots.size === 0)) return null
    const slot = new WorkerSlot()
    slot.budgeted = budgeted
    try {
      slot.handle = this.#backend.launch(
        {
          init: {
            v: PROTOCOL_VERSION,
            label: `${this.#backend.name} worker`,
            initializer: this.#initializer === null ? null : { module: this.#initializer.module, name: this.#initializer.name },
            initargs: this.#initargs,
            initargsShared: this.#initargsShared,
            backend: this.#backend.name,
          },
          resourceLimits: this.#resourceLimits,
          execArgv: this.#execArgv,
          env: budgeted ? this.#workerEnv() : this.#env,
        },
        {
          onMessage: (message) => this.#onMessage(slot, message),
          onExit: (exit) => this.#onExit(slot, exit),
        },
      )
    } catch (error) {
      if (budgeted) workerBudget.release()
      this.#break(new BrokenExecutorError(`Cannot start a ${this.#backend.name} worker: ${(error as Error).message}`, { cause: error }))
      return null
    }
    slot.handle.unref()
    this.#slots.add(slot)
    return slot
  }

  /** The worker's environment, with its share of the worker budget for the pools its tasks create. */
  #workerEnv(): NodeJS.ProcessEnv {
    const env = this.#env ?? process.env
    // Left alone: an explicit share, or an env that is not a plain object (worker_threads' SHARE_ENV).
    if (typeof env !== 'object' || (this.#env !== undefined && this.#env[BUDGET_ENV] !== undefined)) return env
    return { ...env, [BUDGET_ENV]: String(workerBudget.shareFor(this.#maxWorkers)) }
  }

  #onMessage(slot: WorkerSlot, message: FromWorker): void {
    switch (message.t) {
      case 'done': {
        const r = message.r
        const n = r.length >> 1
        if (n > 0) {
          const sample = message.b / n
          this.#avgTaskMs = Number.isNaN(this.#avgTaskMs) ? sample : this.#avgTaskMs * 0.7 + sample * 0.3
        }
        for (let i = 0; i < r.length; i += 2) {
          const f = slot.inflight.shift()
          if (f === undefined) break // cannot happen: the worker answers only what it was sent
          slot.received++
          if (!f.done()) this.#settle(f, slot, r[i] as number, r[i + 1])
        }
        if (message.p !== undefined) {
          // The values so far of the chunk now at the head.
          const f = slot.inflight.peek()
          if (f !== undefined && f.kind === KIND_CHUNK && !f.done()) this.#chunkProgress(f).add(message.p, this.#reviver(f, slot))
        }
        if (slot.inflight.length === 0) this.#onSlotIdle(slot)
        if (this.#queue.length > 0) this.#pump()
        return
      }
      case 'ready':
        slot.ready = true
        this.#startFailures = 0
        return
      case 'fatal':
        slot.fatal = deserializeError(message.e, { worker: slot.handle.label })
        return
      case 'init-error': {
        const cause = deserializeError(message.e, { task: this.#initializer?.label, worker: slot.handle.label })
        this.#break(
          new BrokenExecutorError(
            `The initializer ${this.#initializer?.label ?? ''} failed in ${slot.handle.label}, so no task can run: ${(cause as Error)?.message ?? String(cause)}`,
            { cause },
          ),
        )
        return
      }
    }
  }

  #settle(f: TaskFuture, slot: WorkerSlot, status: number, value: unknown): void {
    if (status === STATUS_OK) {
      if (f.kind === KIND_CHUNK) {
        const outcome = value as ChunkOutcome
        if (f.progress !== null) {
          f.progress.add(outcome, this.#reviver(f, slot))
          ;(f as TaskFuture<ChunkResult>).setResult(f.progress.result())
          return
        }
        let errors: Map<number, unknown> | undefined
        if (outcome.e !== undefined) {
          errors = new Map()
          for (const [index, error] of outcome.e) {
            errors.set(index, deserializeError(error, { task: f.task.label, worker: slot.handle.label, callerStack: f.callerStack }))
          }
        }
        ;(f as TaskFuture<ChunkResult>).setResult({ values: outcome.v, errors, ms: outcome.d })
      } else {
        f.setResult(value)
      }
    } else {
      f.setException(deserializeError(value as SerializedValue, { task: f.task.label, worker: slot.handle.label, callerStack: f.callerStack }))
    }
  }

  #reviver(f: TaskFuture, slot: WorkerSlot): (error: SerializedValue) => unknown {
    return (error) => deserializeError(error, { task: f.task.label, worker: slot.handle.label, callerStack: f.callerStack })
  }

  #chunkProgress(f: TaskFuture): ChunkProgress {
    return (f.progress ??= new ChunkProgress(f.args!))
  }

  /** True while some queued task still has to run. Drops settled tasks from the head. */
  #hasQueuedWork(): boolean {
    const queue = this.#queue
    while (queue.length > 0 && queue.peek()!.done()) queue.shift()
    return queue.length > 0 || this.#verifying.size > 0
  }

  #onSlotIdle(slot: WorkerSlot): void {
    slot.exclusive = false
    if (slot.stopping || slot.killed) return
    if (slot.retiring || (this.#state !== 'RUNNING' && !this.#hasQueuedWork())) {
      this.#stopSlot(slot)
      return
    }
    if (slot.refd) {
      slot.refd = false
      slot.handle.unref()
    }
    if (Number.isFinite(this.#idleTimeout) && slot.idleTimer === undefined) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined
        if (slot.inflight.length === 0) this.#stopSlot(slot)
      }, this.#idleTimeout)
      slot.idleTimer.unref()
    }
  }

  #stopSlot(slot: WorkerSlot): void {
    if (slot.stopping || slot.killed) return
    slot.stopping = true
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer)
    // Keep the event loop alive until the worker is gone, so `await shutdown()` returns.
    if (!slot.refd) {
      slot.refd = true
      slot.handle.ref()
    }
    try {
      slot.handle.send({ t: 'stop' })
    } catch {
      slot.handle.terminate()
    }
    // A task may have left timers or sockets open that keep the worker alive.
    slot.stopTimer = setTimeout(() => slot.handle.terminate(), STOP_GRACE_MS)
    slot.stopTimer.unref()
  }

  #onExit(slot: WorkerSlot, exit: WorkerExit): void {
    this.#slots.delete(slot)
    if (slot.budgeted) workerBudget.release()
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer)
    if (slot.stopTimer !== undefined) clearTimeout(slot.stopTimer)
    const expected = slot.stopping || slot.killed || this.#state === 'BROKEN'
    const inflight = slot.inflight.drain()
    if (inflight.length > 0) this.#recover(slot, inflight, exit)
    // A worker that started a task was ready, even if its 'ready' message died with it
    // (a task that kills its worker at once): that is a task's crash, not a start failure.
    const ranTasks = slot.handle.counters !== null && Atomics.load(slot.handle.counters, COUNTER_STARTED) > 0
    if (!slot.ready && !ranTasks && !expected) {
      this.#startFailures++
      if (this.#startFailures >= MAX_START_FAILURES) {
        const cause = slot.fatal ?? exit.error
        this.#break(
          new BrokenExecutorError(
            `${MAX_START_FAILURES} ${this.#backend.name} workers in a row died before they were ready (last one: ${describeExit(exit)}${cause instanceof Error ? `: ${cause.message}` : ''})`,
            { cause },
          ),
        )
      }
    }
    if (this.#queue.length > 0 && this.#state !== 'BROKEN') this.#schedulePump()
    if (this.#slots.size === 0) {
      const waiters = this.#exitWaiters
      this.#exitWaiters = []
      for (const w of waiters) w()
    }
  }

  #recover(slot: WorkerSlot, inflight: TaskFuture[], exit: WorkerExit): void {
    const counters = slot.handle.counters
    let finished = 0
    let running = -1
    let item = -1
    if (counters !== null) {
      // Int32 arithmetic: the counters wrap after 2^31 tasks, the differences stay right.
      finished = (Atomics.load(counters, COUNTER_FINISHED) - slot.received) | 0
      const started = (Atomics.load(counters, COUNTER_STARTED) - slot.received) | 0
      if (started > finished) running = finished
      item = Atomics.load(counters, COUNTER_ITEM)
    } else if (slot.ready) {
      running = 0
    }
    const requeue: TaskFuture[] = []
    for (let i = 0; i < inflight.length; i++) {
      const f = inflight[i]!
      f.slot = null
      if (f.done()) continue
      if (f.kind === KIND_CHUNK) {
        if (this.#recoverChunk(slot, exit, f, i === running ? item : null)) requeue.push(f)
        continue
      }
      const lostInputs = f.transfer !== undefined && f.transfer.length > 0
      if (i === running) {
        if (f.retries > 0 && !lostInputs) {
          f.retries--
          requeue.push(f)
        } else {
          f.setException(this.#crashError(slot, exit, f, i < finished))
        }
      } else if (lostInputs) {
        f.setException(this.#crashError(slot, exit, f, i < finished))
      } else {
        requeue.push(f)
      }
    }
    for (let i = requeue.length - 1; i >= 0; i--) {
      const f = requeue[i]!
      f[kRequeue]()
      this.#queue.unshift(f)
    }
  }

  /**
   * A chunk whose worker died: keeps the values that arrived, fails the item
   * that was running (`item`, counted in the chunk as sent; null when the
   * chunk was not running) unless it has a retry left, and returns true when
   * items are left to send again (the chunk then holds only those).
   */
  #recoverChunk(slot: WorkerSlot, exit: WorkerExit, f: TaskFuture, item: number | null): boolean {
    const progress = this.#chunkProgress(f)
    if (item !== null) {
      // Unknown (no counters): the first item without a value.
      const index = progress.itemAt(item < 0 ? progress.received : item)
      if (!progress.has(index) && !progress.takeRetry(index, f.retries)) progress.fail(index, this.#crashError(slot, exit, f, false, index))
    }
    if (progress.complete) {
      ;(f as TaskFuture<ChunkResult>).setResult(progress.result())
      return false
    }
    f.args = progress.resend()
    return true
  }

  #crashError(slot: WorkerSlot, exit: WorkerExit, f: TaskFuture, finishedBefore: boolean, item?: number): WorkerCrashedError {
    const cause = slot.fatal ?? exit.error
    const oom = (exit.error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY'
    const how = oom ? `ran out of memory${this.#resourceLimits !== undefined ? ' (resourceLimits)' : ''}` : describeExit(exit)
    const detail = !oom && cause instanceof Error ? `: ${cause.name}: ${cause.message}` : ''
    const when = item !== undefined ? `while running item ${item} of a chunk of task` : finishedBefore ? 'after it ran task' : 'while running task'
    return new WorkerCrashedError(
      `${capitalize(slot.handle.label)} ${how} ${when} ${f.task.label}${detail}. The worker was replaced; no other task is affected`,
      { workerId: slot.handle.label, exitCode: exit.exitCode, signal: exit.signal, task: f.task.label },
      cause !== undefined ? { cause } : undefined,
    )
  }

  #break(error: BrokenExecutorError): void {
    if (this.#state === 'BROKEN') return
    this.#state = 'BROKEN'
    this.#brokenError = error
    for (const f of this.#queue.drain()) if (!f.done()) f.setException(error)
    for (const f of this.#verifying) if (!f.done()) f.setException(error)
    for (const slot of this.#slots) {
      for (const f of slot.inflight) if (!f.done()) f.setException(error)
      slot.killed = true
      slot.handle.terminate()
    }
  }

  #whenIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
    if (this.#state !== 'RUNNING') for (const slot of this.#slots) if (slot.inflight.length === 0) this.#stopSlot(slot)
  }
}

function describeExit(exit: WorkerExit): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`
  if (exit.exitCode === null) return 'died'
  return `exited with code ${exit.exitCode}`
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

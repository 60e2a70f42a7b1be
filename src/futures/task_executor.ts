/**
 * TaskExecutor: the submission layer every executor shares, local and
 * cluster alike. It owns each Future from `submit` until it settles:
 *
 *   submitWith() ─ check args, encode shareables ─▶ TaskFuture ─▶ verify task ─▶ queue ─▶ Scheduler
 *        timeout / signal ──▶ settle now, scheduler stops the running task              │
 *   Future settled ◀── settle(status, value, worker): values, chunk outcomes, errors ◀──┘
 *
 * and the executor's life: pending and idle tracking, `shutdown`,
 * `terminateWorkers`, breaking. How tasks reach workers is the scheduler's
 * business (scheduler.ts); the subclasses (PoolExecutor, NatsExecutor)
 * check their options and pick a scheduler. What stands apart lives apart:
 * the `maxQueue` bound (queue_bound.ts), the counts (stats.ts), which
 * errors run a task again (retry_policy.ts). The rest is one file of about
 * 640 lines because all of it reads and changes the same private state: the
 * queue, the tasks waiting to run again, the pending count, the executor's
 * state.
 */
import { isPacked, unpacked } from '../internal/pack_numbers.js'
import { BrokenExecutorError, CancelledError, SerializationError, TimeoutError, WorkerCrashedError, invalidArgType } from '../errors.js'
import type { Capabilities } from '../backends/capabilities.js'
import { Deque } from '../internal/deque.js'
import { abortSignal, boolean, func, knownKeys, nonNegativeInteger, optionalTimeout, plainObject, positiveInteger } from '../internal/validate.js'
import { resolveTask, type ResolvedTask, type Task, type TaskFunction } from '../task_ref.js'
import { KIND_CALL, KIND_CHUNK, STATUS_OK, type ChunkOutcome } from '../wire/messages.js'
import { deserializeError, type SerializedValue } from '../wire/remote_error.js'
import { findUncloneable } from '../wire/clone_check.js'
import { type Transferable } from '../wire/transfer.js'
import { encodeShareables, type ShareTarget } from '../wire/shareable.js'
import { ChunkProgress } from './chunk_progress.js'
import { QueueBound, type WaitForRoomOptions } from './queue_bound.js'
import { RetryPolicy } from './retry_policy.js'
import { Executor, type ChunkResult, type ShutdownOptions, type SubmitOptions } from './executor.js'
import { type Future, kFailed, kForceCancel, kOutcome, kRequeue } from './future.js'
import { TaskStats, type ExecutorStats } from './stats.js'
import type { AutoChunk, ExecutorState, Scheduler, SchedulerHost } from './scheduler.js'
import { TaskFuture, type ProgressListener } from './task_future.js'

const SUBMIT_KEYS = ['timeout', 'signal', 'transfer', 'retries', 'retryOn', 'retryBackoff', 'onProgress'] as const

/** The options every executor takes, checked once here. */
export interface SharedSettings {
  retries: number
  /** `retryOn` and `retryBackoff`; null without `retryOn`. */
  retryPolicy: RetryPolicy | null
  maxQueue: number
}

/** The keys of the options every executor takes. */
export const SHARED_OPTION_KEYS = ['retries', 'retryOn', 'retryBackoff', 'maxQueue'] as const

/** Checks `retries`, `retryOn`, `retryBackoff` and `maxQueue` of an executor's options. */
export function checkSharedOptions(opts: Record<string, unknown>): SharedSettings {
  const retries = opts.retries === undefined ? 0 : nonNegativeInteger('retries', opts.retries)
  const retryPolicy = RetryPolicy.from(opts.retryOn, opts.retryBackoff, 'options')
  if (retryPolicy !== null) RetryPolicy.needsRetries(retries, 'options')
  return { retries, retryPolicy, maxQueue: opts.maxQueue === undefined ? Infinity : positiveInteger('maxQueue', opts.maxQueue) }
}

/**
 * The executor over a scheduler. Use ThreadPoolExecutor, ProcessPoolExecutor,
 * InlineExecutor or NatsExecutor; this class holds what they share.
 */
export abstract class TaskExecutor extends Executor {
  readonly #scheduler: Scheduler
  readonly #capabilities: Capabilities
  readonly #shareTarget: ShareTarget
  readonly #retries: number
  readonly #retryPolicy: RetryPolicy | null
  /** `maxQueue` and its backpressure (queue_bound.ts); null without a bound, so unbounded executors pay nothing. */
  readonly #bound: QueueBound | null
  /** MULTIPROC_CALLER_STACKS=1 when the executor was created: every task records its submitter's stack. */
  readonly #callerStacks = process.env.MULTIPROC_CALLER_STACKS === '1'
  /** What the executor is called in messages ("the cluster executor"). */
  readonly #what: string
  /** The scheduler's dispatchNow moves `transfer` buffers as it sends (Scheduler.movesTransfers). */
  readonly #movesTransfers: boolean
  readonly #queue = new Deque<TaskFuture>()
  readonly #stats = new TaskStats()
  readonly #verifying = new Set<TaskFuture>()
  /** Tasks waiting out their backoff before a run again under `retryOn`. */
  readonly #retrying = new Set<TaskFuture>()
  #state: ExecutorState = 'RUNNING'
  #brokenError: Error | null = null
  #pumpScheduled = false
  #pending = 0
  #idleWaiters: (() => void)[] = []
  readonly #taskDone: ((f: TaskFuture) => void) | undefined
  readonly #pumpBound = (): void => {
    this.#pumpScheduled = false
    if (this.#state !== 'BROKEN') this.#scheduler.pump()
    if (this.#bound?.waiting) this.#bound.check()
  }
  /** The clock read for the current synchronous run of submits (-1: read it again). */
  #clock = -1
  readonly #clockReset = (): void => {
    this.#clock = -1
  }
  readonly #onTaskDone = (future: Future<unknown>): void => {
    const f = future as TaskFuture
    this.#pending--
    const stats = this.#stats
    if (f.cancelled()) stats.cancelled++
    else if (!f[kFailed]()) stats.succeeded++
    else {
      stats.failed++
      if (f[kOutcome]().error instanceof WorkerCrashedError) stats.crashed++
    }
    if (this.#bound?.waiting) this.#bound.scheduleCheck()
    if (f.timer !== undefined) clearTimeout(f.timer)
    if (f.retryTimer !== undefined) {
      clearTimeout(f.retryTimer)
      this.#retrying.delete(f)
    }
    if (f.onAbort !== undefined) f.signal!.removeEventListener('abort', f.onAbort)
    f.args = null
    if (this.#taskDone !== undefined) this.#taskDone(f)
    if (this.#pending === 0) this.#whenIdle()
  }

  /**
   * @param settings the executor's default `retries` and its `maxQueue`, checked by the subclass
   *   (`checkSharedOptions`)
   */
  protected constructor(scheduler: Scheduler, settings: SharedSettings, what: string) {
    super()
    this.#scheduler = scheduler
    this.#bound =
      settings.maxQueue === Infinity
        ? null
        : new QueueBound(
            settings.maxQueue,
            () => {
              // Settled tasks at the queue's head no longer wait.
              const queue = this.#queue
              while (queue.length > 0 && queue.peek()!.done()) queue.shift()
              return queue.length + this.#verifying.size + this.#retrying.size
            },
            () => this.#closedError(),
          )
    this.#capabilities = scheduler.capabilities
    this.#movesTransfers = scheduler.movesTransfers === true
    // The name only words errors ("cannot be passed to the nats backend"); the flags decide.
    this.#shareTarget = { ...scheduler.capabilities, backend: scheduler.name }
    this.#retries = settings.retries
    this.#retryPolicy = settings.retryPolicy
    this.#what = what
    this.#taskDone = scheduler.taskDone?.bind(scheduler)
    const self = this
    const host: SchedulerHost = {
      queue: this.#queue,
      get state() {
        return self.#state
      },
      get pending() {
        return self.#pending
      },
      stats: this.#stats,
      schedulePump: () => this.#schedulePump(),
      hasQueuedWork: () => this.#hasQueuedWork(),
      settle: (f, status, value, worker) => this.#settle(f, status, value, worker),
      addChunkPart: (f, part, worker) => this.#chunkProgress(f).add(part, reviver(f, worker)),
      break: (error) => this.#break(error),
    }
    scheduler.attach(host)
  }

  /** Tasks that run at once at most (on the cluster: tasks in flight). */
  get maxWorkers(): number {
    return this.#scheduler.maxWorkers
  }

  /**
   * How `map` sizes automatic chunks on this executor's scheduler.
   * @internal used by the map engine
   */
  autoChunk(): AutoChunk | undefined {
    return this.#scheduler.autoChunk?.()
  }

  /** Tasks each worker runs at once at most (`concurrentTasksPerWorker`, default 1; 1 on the cluster). */
  get concurrentTasksPerWorker(): number {
    return this.#scheduler.concurrency
  }

  /** The backend's name: 'thread', 'process', 'inline' or 'nats'. */
  get backend(): string {
    return this.#scheduler.name
  }

  /** What this executor's workers can do. */
  get capabilities(): Capabilities {
    return this.#capabilities
  }

  /**
   * A snapshot of the executor's activity: tasks by state and outcome, wait
   * and run time histograms (p50/p90/p99), and each worker's busy share since
   * the previous call. Always on; cheap enough to call every second.
   *
   * @example
   * const s = executor.stats()
   * console.log(`${s.succeeded}/${s.submitted} done, p99 run ${s.runTime.p99.toFixed(1)} ms`)
   */
  stats(): ExecutorStats {
    const stats = this.#stats
    return {
      workers: this.#scheduler.workerCount(),
      queued: this.#queue.length + this.#verifying.size + this.#retrying.size,
      running: this.#scheduler.runningCount(),
      pending: this.#pending,
      state: this.#state,
      submitted: stats.submitted,
      succeeded: stats.succeeded,
      failed: stats.failed,
      cancelled: stats.cancelled,
      crashed: stats.crashed,
      retried: stats.retried,
      workersStarted: stats.workersStarted,
      waitTime: stats.wait.snapshot(),
      runTime: stats.run.snapshot(),
      perWorker: this.#scheduler.workerStats(),
    }
  }

  protected checkOpen(): void {
    if (this.#state === 'RUNNING') return
    const broken = this.#brokenError
    if (broken === null) throw new BrokenExecutorError('Cannot submit new tasks after shutdown()')
    if (broken instanceof BrokenExecutorError) throw broken
    throw new BrokenExecutorError(`${capitalize(this.#what)} is broken: ${broken.message}`, { cause: broken })
  }

  override submit<F extends TaskFunction>(fn: Task<F>, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    return this.#submit(undefined, fn, args)
  }

  submitWith<F extends TaskFunction>(options: SubmitOptions | undefined, fn: Task<F>, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    return this.#submit(options, fn, args)
  }

  /**
   * Backpressure for a bounded queue: resolves once `maxQueue` has room for
   * one more task, and keeps that place for the `submit` (or `submitWith`)
   * that follows it in the same turn, so that submit never throws `Full`.
   * Callers that wait are served in order, one per free place. Without
   * `maxQueue` it resolves at once. A place nobody used is given back at the
   * next turn of the event loop.
   *
   * @param options `timeout` (ms) and `signal`: how long to wait at most
   * @returns a Promise that resolves when a task may be submitted
   * @throws (rejects with) TimeoutError or CancelledError when its timeout or signal ends the wait;
   *   BrokenExecutorError after `shutdown()`, or if the executor shuts down or breaks while it waits
   * @example
   * await using ex = new ThreadPoolExecutor({ maxQueue: 1000 })
   * for await (const line of lines) {
   *   await ex.waitForRoom() // memory stays flat however long the input
   *   ex.submit(parse, line).then(store)
   * }
   */
  waitForRoom(options?: WaitForRoomOptions): Promise<void> {
    let timeout: number | undefined
    let signal: AbortSignal | undefined
    try {
      if (options !== undefined) {
        const opts = plainObject('options', options)
        knownKeys('waitForRoom()', opts, ['timeout', 'signal'])
        timeout = optionalTimeout('timeout', opts.timeout)
        signal = abortSignal('signal', opts.signal)
      }
      this.checkOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#bound === null ? Promise.resolve() : this.#bound.wait(timeout, signal)
  }

  /** The error `submit` throws once the executor accepts no more work; null while it does. */
  #closedError(): Error | null {
    if (this.#state === 'RUNNING') return null
    try {
      this.checkOpen()
    } catch (error) {
      return error as Error
    }
    return null
  }

  /** `submit` and `submitWith`, taking the rest array as it is (spreading it again would copy it per task). */
  #submit<F extends TaskFunction>(options: SubmitOptions | undefined, fn: Task<F>, args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    this.checkOpen()
    if (this.#bound !== null) this.#bound.admit()
    // The first worker boots (or the connection opens) while the task is resolved.
    this.#scheduler.prepare()
    const task = resolveTask(fn)
    let timeout: number | undefined
    let signal: AbortSignal | undefined
    let transfer: readonly Transferable[] | undefined
    let retries = this.#retries
    let retryPolicy = this.#retryPolicy
    let onProgress: ProgressListener | undefined
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
      if (opts.retryOn !== undefined || opts.retryBackoff !== undefined) {
        retryPolicy = RetryPolicy.from(opts.retryOn, opts.retryBackoff, 'submitWith()')
        RetryPolicy.needsRetries(retries, 'submitWith()')
      }
      if (opts.onProgress !== undefined) onProgress = func('onProgress', opts.onProgress) as ProgressListener
    }
    const found = { shareables: 0 }
    for (let i = 0; i < args.length; i++) checkArgument(args[i], i, 'args', this.#capabilities, transfer, task, found)
    if (found.shareables > 0) args = encodeShareables(args, this.#shareTarget) as typeof args
    const f = new TaskFuture<Awaited<ReturnType<F>>>(task, KIND_CALL, args, transfer, timeout !== undefined || signal !== undefined, retries, signal, timeout)
    f.shared = found.shareables > 0
    f.onProgress = onProgress
    f.retryPolicy = retryPolicy
    if (this.#callerStacks) f.callerStack = new Error().stack
    if (signal?.aborted) {
      moveIn(f)
      this.#stats.submitted++
      this.#stats.cancelled++
      f[kForceCancel](new CancelledError('The task was not started: its signal was already aborted', { cause: signal.reason }))
      return f
    }
    this.#enqueue(f as TaskFuture)
    return f
  }

  /**
   * Runs a chunk of calls of one task as a single unit of work.
   * `retries`: runs again of an item whose worker crashed (default: the
   * executor's). `onProgress` hears the items' progress() values, with the
   * item's index in the chunk.
   * @internal used by `map` and by Pool
   */
  submitChunk(task: ResolvedTask, argsList: unknown[][], retries?: number, onProgress?: ProgressListener): Future<ChunkResult> {
    return this.#submitChunk(task, argsList, false, retries, onProgress)
  }

  /**
   * A chunk of one-argument calls `fn(item)`: the items travel as one flat
   * array, with no argument array per item; numbers may come packed in a
   * typed array (internal/pack_numbers.ts), typed as an array.
   * @internal used by Pool's map, by map over one iterable, and by cluster workers for flat chunks
   */
  submitItems(task: ResolvedTask, items: unknown[], onProgress?: ProgressListener, retries?: number): Future<ChunkResult> {
    return this.#submitChunk(task, items, true, retries, onProgress)
  }

  #submitChunk(task: ResolvedTask, argsList: unknown[], flat: boolean, retries = this.#retries, onProgress?: ProgressListener): Future<ChunkResult> {
    this.checkOpen()
    const found = { shareables: 0 }
    let problem: { path: string; reason: string } | null = null
    let problemArg = 0
    // Items packed as numbers (internal/pack_numbers.ts) hold nothing to check.
    const checked = isPacked(argsList) ? 0 : argsList.length
    outer: for (let i = 0; i < checked; i++) {
      const args = flat ? argsList : (argsList[i] as unknown[])
      for (let j = flat ? i : 0; j < (flat ? i + 1 : args.length); j++) {
        const arg = args[j]
        if (arg === null || (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol')) continue
        problem = findUncloneable(arg, `item[${i}] argument ${flat ? 0 : j}`, undefined, this.#capabilities.sharedMemory, found)
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
    f.onProgress = onProgress
    f.retryPolicy = this.#retryPolicy
    if (this.#callerStacks) f.callerStack = new Error().stack
    if (problem !== null) {
      this.#stats.submitted++
      this.#stats.failed++
      f.setException(serializationError(problem, problemArg, task))
      return f
    }
    this.#enqueue(f as TaskFuture)
    return f
  }

  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const opts = plainObject('options', options)
    knownKeys('shutdown()', opts, ['wait', 'cancelFutures'])
    const wait = opts.wait === undefined ? true : boolean('wait', opts.wait)
    const cancelFutures = opts.cancelFutures === undefined ? false : boolean('cancelFutures', opts.cancelFutures)
    if (this.#state === 'RUNNING') this.#state = 'SHUTDOWN'
    this.#bound?.check()
    if (cancelFutures) {
      for (const f of this.#queue) f.cancel()
      for (const f of this.#verifying) f.cancel()
      for (const f of [...this.#retrying]) f.cancel()
    }
    if (this.#pending === 0) this.#whenIdle()
    if (!wait) return
    if (this.#pending > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
    await this.#scheduler.close()
  }

  /**
   * Stops every worker now, whatever it is doing, and settles every pending
   * Future with CancelledError: queued tasks are cancelled, running ones are
   * stopped (local workers are terminated: processes get SIGTERM, then
   * SIGKILL after a second; cluster tasks are cancelled where they run and
   * dropped from the stream). The executor accepts no more tasks. Resolves
   * once every worker has exited; never waits for a task. Python 3.14's
   * `ProcessPoolExecutor.terminate_workers()`; `Pool.terminate()` uses it.
   *
   * @example
   * process.once('SIGINT', () => void executor.terminateWorkers())
   */
  async terminateWorkers(): Promise<void> {
    if (this.#state === 'RUNNING') this.#state = 'SHUTDOWN'
    this.#bound?.check()
    const notStarted = new CancelledError('The task was cancelled before it started: its executor was terminated')
    for (const f of this.#queue.drain()) f[kForceCancel](notStarted)
    for (const f of [...this.#verifying]) f[kForceCancel](notStarted)
    for (const f of [...this.#retrying]) f[kForceCancel](new CancelledError(`Task ${f.task.label} was cancelled while it waited to run again: its executor was terminated`))
    for (const f of [...this.#scheduler.running()]) {
      if (!f.done()) f[kForceCancel](new CancelledError(`Task ${f.task.label} was stopped: its executor was terminated`))
    }
    await this.#scheduler.terminate()
  }

  // ── submission ──

  #enqueue(f: TaskFuture): void {
    this.#pending++
    this.#stats.submitted++
    f.queuedAt = this.#now()
    f.addDoneCallback(this.#onTaskDone)
    if (this.#capabilities.cancelsRunning) f.canceller = () => this.#stopTask(f, 'cancel')
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
      moveIn(f)
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
    // Nothing queued, no pump due and a worker idle: the scheduler sends it now, without the
    // hop through the queue and a microtask (this is the idle round trip). With a pump due,
    // the task goes with the others it sends.
    // Buffers to move: postMessage moves them if the task leaves now; otherwise they move in here.
    const movesOnSend = this.#movesTransfers
    if (!movesOnSend) moveIn(f)
    if (this.#queue.length === 0 && !this.#pumpScheduled && !f.exclusive && this.#scheduler.dispatchNow(f)) return
    if (movesOnSend) moveIn(f)
    this.#queue.push(f)
    this.#schedulePump()
  }

  #stopTask(f: TaskFuture, why: 'timeout' | 'abort' | 'cancel'): void {
    if (f.done()) return
    const running = f.state === 'RUNNING' && f.placed !== null
    const how = running ? this.#scheduler.describeStop(f) : ''
    if (why === 'timeout') {
      const when = running ? `while running; ${how}` : f.reruns > 0 ? `before run ${f.reruns + 1} (retryOn) started` : 'before it started'
      f.setException(new TimeoutError(`Task ${f.task.label} timed out after ${f.timeout} ms ${when}`))
    } else if (why === 'cancel') {
      f[kForceCancel](new CancelledError(`Task ${f.task.label} was cancelled by cancel() while running; ${how}`))
    } else {
      f[kForceCancel](
        new CancelledError(
          running
            ? `Task ${f.task.label} was cancelled while running: its signal was aborted; ${how}`
            : `Task ${f.task.label} was cancelled before it started: its signal was aborted`,
          { cause: f.signal!.reason },
        ),
      )
    }
    if (running) this.#scheduler.stopRunning(f)
  }

  /**
   * performance.now(), read once per synchronous run of submits: a burst of
   * 100k submits reads the clock once (they all wait from the same moment),
   * an idle submit reads it for itself.
   */
  #now(): number {
    if (this.#clock < 0) {
      this.#clock = performance.now()
      queueMicrotask(this.#clockReset)
    }
    return this.#clock
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    queueMicrotask(this.#pumpBound)
  }

  #hasQueuedWork(): boolean {
    const queue = this.#queue
    while (queue.length > 0 && queue.peek()!.done()) queue.shift()
    return queue.length > 0 || this.#verifying.size > 0
  }

  // ── outcomes ──

  #settle(f: TaskFuture, status: number, value: unknown, worker: string): void {
    if (f.done()) return
    if (status !== STATUS_OK) {
      const error = deserializeError(value as SerializedValue, { task: f.task.label, worker, callerStack: f.callerStack })
      const policy = f.retryPolicy
      // Moved buffers (`transfer`) are gone with the run that threw: nothing to run again with.
      if (policy !== null && f.retries > 0 && f.kind !== KIND_CHUNK && !(f.transfer !== undefined && f.transfer.length > 0) && policy.matches(error, f.reruns + 1)) {
        f.retries--
        f.reruns++
        this.#stats.retried++
        this.#runAgainLater(f, policy.delay(f.reruns))
        return
      }
      f.setException(error)
    } else if (f.kind !== KIND_CHUNK) {
      f.setResult(value)
    } else if (f.progress !== null || (f.retryPolicy !== null && (value as ChunkOutcome).e !== undefined)) {
      // A chunk that came in pieces, or whose items threw: items that threw an
      // error `retryOn` names (here or in a piece sent ahead) run again, as the rest of the chunk.
      const progress = this.#chunkProgress(f)
      progress.add(value as ChunkOutcome, reviver(f, worker))
      const again = f.retryPolicy === null ? null : progress.retryFailed(f.retryPolicy, f.retries)
      if (again === null || again.items === 0) (f as TaskFuture<ChunkResult>).setResult(progress.result())
      else {
        this.#stats.retried += again.items
        f.reruns++
        f.args = progress.resend()
        this.#runAgainLater(f, f.retryPolicy!.delay(again.attempt))
      }
    } else {
      const outcome = value as ChunkOutcome
      let errors: Map<number, unknown> | undefined
      if (outcome.e !== undefined) {
        errors = new Map()
        for (const [index, error] of outcome.e) errors.set(index, deserializeError(error, { task: f.task.label, worker, callerStack: f.callerStack }))
      }
      ;(f as TaskFuture<ChunkResult>).setResult({ values: unpacked(outcome.v), errors, ms: outcome.d })
    }
  }

  /** Queues `f` again after `ms`: it threw an error its `retryOn` names and has retries left. */
  #runAgainLater(f: TaskFuture, ms: number): void {
    f.placed = null
    f[kRequeue]()
    this.#retrying.add(f)
    // Not unref'd: a task waiting to run again is pending work, like a queued one.
    f.retryTimer = setTimeout(() => {
      f.retryTimer = undefined
      this.#retrying.delete(f)
      if (f.done()) return
      if (this.#state === 'BROKEN') f.setException(this.#brokenError)
      else {
        this.#queue.push(f)
        this.#schedulePump()
      }
    }, ms)
  }

  #chunkProgress(f: TaskFuture): ChunkProgress {
    return (f.progress ??= new ChunkProgress(f.args!))
  }

  #break(error: Error): void {
    if (this.#state === 'BROKEN') return
    this.#state = 'BROKEN'
    this.#brokenError = error
    this.#bound?.check()
    for (const f of this.#queue.drain()) if (!f.done()) f.setException(error)
    for (const f of this.#verifying) if (!f.done()) f.setException(error)
    for (const f of [...this.#retrying]) if (!f.done()) f.setException(error)
    for (const f of [...this.#scheduler.running()]) if (!f.done()) f.setException(error)
    this.#scheduler.broken()
  }

  #whenIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
    this.#scheduler.idle()
  }
}

/**
 * Throws SerializationError when argument `index` cannot travel to the
 * workers this executor's capabilities describe; counts shareable objects
 * in `found` (they are encoded after the check).
 */
export function checkArgument(
  arg: unknown,
  index: number,
  where: string,
  capabilities: Capabilities,
  transfer?: readonly Transferable[],
  task?: ResolvedTask,
  found?: { shareables: number },
): void {
  if (arg === null || (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol')) return
  const problem = findUncloneable(arg, `${where}[${index}]`, transfer, capabilities.sharedMemory, found)
  if (problem !== null) throw serializationError(problem, index, task)
}

function serializationError(problem: { path: string; reason: string }, index: number, task: ResolvedTask | undefined): SerializationError {
  return new SerializationError(`Cannot send argument ${index}${task ? ` of task ${task.label}` : ''} to a worker: ${problem.reason}`, {
    argIndex: index,
    path: problem.path,
    reason: problem.reason,
  })
}

/**
 * Moves the buffers of a task submitted with `transfer` into the executor,
 * as postMessage would: the caller's buffers are detached at submit and the
 * executor owns the moved memory until dispatch. Not for a task a thread
 * gets at submit: its postMessage moves them itself, once, where each move
 * makes a new ArrayBuffer (and, for a large one, its share of full
 * collections).
 */
function moveIn(f: TaskFuture): void {
  const transfer = f.transfer
  if (transfer === undefined || transfer.length === 0 || f.args === null) return
  ;[f.args, f.transfer] = structuredClone([f.args, transfer], { transfer: transfer as Transferable[] }) as [unknown[], Transferable[]]
}

function reviver(f: TaskFuture, worker: string): (error: SerializedValue) => unknown {
  return (error) => deserializeError(error, { task: f.task.label, worker, callerStack: f.callerStack })
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/**
 * LocalScheduler: gets tasks to the workers of a local backend (threads,
 * processes, the calling thread) and their outcomes back. It knows nothing
 * of how a worker starts (that is the backend's job); it owns the workers'
 * slots and in-flight lists. The Futures belong to the executor above
 * (task_executor.ts). What happens to a dead worker's tasks lives apart
 * (worker_loss.ts); the rest is one file of about 560 lines because
 * dispatch, results, lanes and worker life all move the same slots and
 * in-flight lists, and splitting them would hand that state around.
 *
 *   queue ─▶ pump() ─▶ batch ─▶ backend worker
 *     ▲         │ (microtask, coalesces a burst of submits)
 *     │         └─ spawns workers on demand, up to maxWorkers
 *     └── settle ◀── 'done' message (results in FIFO order) ◀─┘
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
 * Lanes. With `concurrentTasksPerWorker` N > 1 a worker runs up to N
 * tasks at once (worker/runtime.ts) and answers as they finish, each result
 * with its task's sequence number, which `#onLanes` looks up in the
 * in-flight list (kept in the order sent). A worker then holds at least N
 * tasks; killable tasks share workers like the others, and stopping one
 * terminates its worker and re-queues the others it held, retries
 * untouched (worker_loss.ts). On a backend that cannot stop a running task
 * (inline) nothing is terminated: the stopped task keeps its lane until it
 * ends, and its result is dropped.
 *
 * Worker loss is worker_loss.ts: what ran, what to run again, what failed.
 *
 * Nesting. Workers count against a per-thread worker budget and pass each
 * worker its share, so pools created inside tasks do not multiply (see
 * internal/worker_budget.ts).
 *
 * One file of about 550 lines: dispatch, the answers of both kinds of
 * worker and the workers' life all read and change the same slots.
 */
import type { ResourceLimits } from 'node:worker_threads'
import { BrokenExecutorError, SerializationError } from '../errors.js'
import type { Backend, WorkerExit } from '../backends/backend.js'
import type { Capabilities } from '../backends/capabilities.js'
import { BUDGET_ENV, workerBudget } from '../internal/worker_budget.js'
import type { ResolvedTask } from '../task_ref.js'
import type { Transferable } from '../wire/transfer.js'
import { FLAG_FLAT, FLAG_PROGRESS, FLAG_SHARED, KIND_CHUNK, PROTOCOL_VERSION, STATUS_OK, type ChunkOutcome, type FromWorker, type FunctionDecl } from '../wire/messages.js'
import { deserializeError } from '../wire/remote_error.js'
import { COUNTER_STARTED } from '../worker/runtime.js'
import { takeBatch, type Scheduler, type SchedulerHost, type WorkerStats } from './scheduler.js'
import type { TaskFuture } from './task_future.js'
import { WorkerSlot, describeExit, recoverInflight } from './worker_loss.js'

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

/** What a LocalScheduler's workers are started with (checked by PoolExecutor). */
export interface LocalSchedulerOptions {
  maxWorkers: number
  initializer: ResolvedTask | null
  /** Encoded already (share descriptors in place of shareable objects). */
  initargs: unknown[]
  initargsShared: boolean
  maxTasksPerChild: number
  resourceLimits: ResourceLimits | undefined
  idleTimeout: number
  execArgv: string[] | undefined
  env: NodeJS.ProcessEnv | undefined
  /** Tasks a worker runs at once at most (`concurrentTasksPerWorker`). */
  concurrency: number
}

export class LocalScheduler implements Scheduler {
  readonly capabilities: Capabilities
  readonly #backend: Backend
  readonly #options: LocalSchedulerOptions
  #host!: SchedulerHost
  readonly #slots = new Set<WorkerSlot>()
  readonly #fnIndex = new Map<string, number>()
  readonly #fnDecls: FunctionDecl[] = []
  #avgTaskMs = NaN
  #startFailures = 0
  #exitWaiters: (() => void)[] = []

  constructor(backend: Backend, options: LocalSchedulerOptions) {
    this.#backend = backend
    this.#options = options
    this.capabilities = backend.capabilities
    // Threads and the inline backend send by postMessage / structuredClone with the transfer
    // list (the caller's buffers are detached by the send); a process gets a serialized copy.
    this.movesTransfers = !backend.capabilities.ownProcess
  }

  readonly movesTransfers: boolean

  get name(): string {
    return this.#backend.name
  }

  get maxWorkers(): number {
    return this.#options.maxWorkers
  }

  get concurrency(): number {
    return this.#options.concurrency
  }

  attach(host: SchedulerHost): void {
    this.#host = host
  }

  prepare(): void {
    if (this.#slots.size === 0) this.#spawn()
  }

  dispatchNow(f: TaskFuture): boolean {
    for (const slot of this.#slots) {
      if (slot.inflight.length === 0 && !slot.exclusive && !slot.retiring && !slot.stopping && !slot.killed) {
        if (f.setRunningOrNotifyCancel()) this.#dispatch(slot, [f])
        return true
      }
    }
    return false
  }

  describeStop(f: TaskFuture): string {
    const label = (f.placed as WorkerSlot).handle.label
    if (this.#options.concurrency === 1) return `${label} was stopped and replaced`
    if (!this.capabilities.preemptive) return `it runs on in ${label} until it ends (the ${this.name} backend cannot stop a task), and its result is dropped`
    return `${label} was stopped and replaced, and the other tasks it ran at once run again on another worker`
  }

  stopRunning(f: TaskFuture): void {
    const slot = f.placed as WorkerSlot
    if (this.#options.concurrency > 1) {
      // Terminating an inline worker would stop nothing and make the others run twice: the task keeps its lane.
      if (!this.capabilities.preemptive) return
      slot.stoppedForTask = true
    }
    slot.killed = true
    slot.handle.terminate()
  }

  *running(): Iterable<TaskFuture> {
    for (const slot of this.#slots) yield* slot.inflight
  }

  runningCount(): number {
    let running = 0
    for (const slot of this.#slots) running += slot.inflight.length
    return running
  }

  workerCount(): number {
    return this.#slots.size
  }

  workerStats(): WorkerStats[] {
    const out: WorkerStats[] = []
    // A worker runs one task at a time; its own clock may read a little over the window.
    for (const slot of this.#slots) out.push(slot.activity.report(slot.handle.label, 1))
    return out
  }

  idle(): void {
    if (this.#host.state !== 'RUNNING') {
      for (const slot of this.#slots) {
        if (slot.inflight.length === 0) this.#stopSlot(slot)
        else if (this.#options.concurrency > 1 && !slot.killed) {
          // Only stopped tasks left, running on in lanes (inline): let them go, nothing waits for them.
          slot.killed = true
          slot.handle.terminate()
        }
      }
    }
  }

  async close(): Promise<void> {
    if (this.#slots.size > 0) await new Promise<void>((resolve) => this.#exitWaiters.push(resolve))
  }

  async terminate(): Promise<void> {
    for (const slot of this.#slots) {
      if (!slot.killed) {
        slot.killed = true
        slot.handle.terminate()
      }
    }
    await this.close()
  }

  broken(): void {
    for (const slot of this.#slots) {
      slot.killed = true
      slot.handle.terminate()
    }
  }

  // ── dispatch ──

  #limit(): number {
    // A worker with lanes holds a task per lane at least, more when they are short (its backlog).
    const lanes = this.#options.concurrency
    if (Number.isNaN(this.#avgTaskMs)) return lanes
    if (this.#avgTaskMs <= 0) return Math.max(lanes, MAX_INFLIGHT)
    const least = Math.max(lanes, this.#avgTaskMs < PREFETCH_BELOW_MS ? 2 : 1)
    return Math.max(least, Math.min(MAX_INFLIGHT, Math.floor(BACKLOG_MS / this.#avgTaskMs)))
  }

  pump(): void {
    const queue = this.#host.queue
    const limit = this.#limit()
    const maxTasksPerChild = this.#options.maxTasksPerChild
    // Workers with lanes take killable tasks with the others (see the header).
    const rule = this.#options.concurrency > 1 ? 'shared' : 'apart'
    while (queue.length > 0) {
      const head = queue.peek()!
      if (head.done()) {
        queue.shift()
        continue
      }
      if (head.exclusive && rule === 'apart') {
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
        const room = Math.min(this.#options.maxWorkers - this.#slots.size, queue.length - idle)
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
        const room = Math.min(limit - slot.inflight.length, share, MAX_BATCH, maxTasksPerChild - slot.dispatched)
        const batch = takeBatch(queue, room, rule)
        if (batch.length === 0) break
        this.#dispatch(slot, batch)
        sent += batch.length
      }
      if (sent === 0 && !(rule === 'apart' && (queue.peek()?.exclusive ?? false))) return
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
      q.push(f.kind | (f.shared ? FLAG_SHARED : 0) | (f.flat ? FLAG_FLAT : 0) | (f.onProgress !== undefined ? FLAG_PROGRESS : 0), index, f.args)
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
    // Sequence numbers as the worker counts the tasks it receives: a worker with lanes answers by them.
    let seq = slot.dispatched
    for (const f of batch) {
      f.placed = slot
      f.seq = seq++
      slot.inflight.push(f)
    }
    this.#host.stats.recordWaits(batch, performance.now())
    slot.dispatched += batch.length
    if (slot.dispatched >= this.#options.maxTasksPerChild) slot.retiring = true
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
    const options = this.#options
    if (this.#slots.size >= options.maxWorkers || this.#host.state === 'BROKEN') return null
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
            initializer: options.initializer === null ? null : { module: options.initializer.module, name: options.initializer.name },
            initargs: options.initargs,
            initargsShared: options.initargsShared,
            backend: this.#backend.name,
            ...(options.concurrency > 1 ? { concurrency: options.concurrency } : {}),
          },
          resourceLimits: options.resourceLimits,
          execArgv: options.execArgv,
          env: budgeted ? this.#workerEnv() : options.env,
        },
        {
          onMessage: (message) => this.#onMessage(slot, message),
          onExit: (exit) => this.#onExit(slot, exit),
        },
      )
    } catch (error) {
      if (budgeted) workerBudget.release()
      this.#host.break(new BrokenExecutorError(`Cannot start a ${this.#backend.name} worker: ${(error as Error).message}`, { cause: error }))
      return null
    }
    slot.handle.unref()
    this.#slots.add(slot)
    this.#host.stats.workersStarted++
    return slot
  }

  /** The worker's environment, with its share of the worker budget for the pools its tasks create. */
  #workerEnv(): NodeJS.ProcessEnv {
    const own = this.#options.env
    const env = own ?? process.env
    // Left alone: an explicit share, or an env that is not a plain object (worker_threads' SHARE_ENV).
    if (typeof env !== 'object' || (own !== undefined && own[BUDGET_ENV] !== undefined)) return env
    return { ...env, [BUDGET_ENV]: String(workerBudget.shareFor(this.#options.maxWorkers)) }
  }

  #onMessage(slot: WorkerSlot, message: FromWorker): void {
    switch (message.t) {
      case 'done': {
        if (message.k !== undefined) {
          this.#onLanes(slot, message)
          return
        }
        const r = message.r
        const host = this.#host
        const activity = slot.activity
        this.#recordRuns(slot, r.length >> 1, message.b)
        activity.busyMs += message.b
        const label = slot.handle.label
        // Progress values (wire/messages.ts): those of the k-th task come before its result.
        const g = message.g
        let gi = 0
        for (let i = 0; i < r.length; i += 2) {
          if (g !== undefined) {
            for (; gi < g.length && (g[gi] as number) === i >> 1; gi += 2) slot.inflight.peek()?.reportProgress(g[gi + 1] as unknown[])
          }
          const f = slot.inflight.shift()
          if (f === undefined) break // cannot happen: the worker answers only what it was sent
          slot.received++
          if (r[i] !== STATUS_OK) activity.failed++
          host.settle(f, r[i] as number, r[i + 1], label)
        }
        if (g !== undefined) for (; gi < g.length; gi += 2) slot.inflight.peek()?.reportProgress(g[gi + 1] as unknown[])
        if (message.p !== undefined) {
          // The values so far of the chunk now at the head.
          const f = slot.inflight.peek()
          if (f !== undefined && f.kind === KIND_CHUNK && !f.done()) host.addChunkPart(f, message.p, label)
        }
        if (slot.inflight.length === 0) this.#onSlotIdle(slot)
        if (host.queue.length > 0) this.pump()
        // Callers that submit as each of these results comes in get their tasks sent
        // together by one pump, after them, not one message each (see dispatchNow).
        else if (r.length > 2) host.schedulePump()
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
        const initializer = this.#options.initializer
        const cause = deserializeError(message.e, { task: initializer?.label, worker: slot.handle.label })
        this.#host.break(
          new BrokenExecutorError(
            `The initializer ${initializer?.label ?? ''} failed in ${slot.handle.label}, so no task can run: ${(cause as Error)?.message ?? String(cause)}`,
            { cause },
          ),
        )
        return
      }
    }
  }

  /** `n` tasks of `slot` finished in `busyMs` together: the average task time, the run-time histogram, the worker's count. */
  #recordRuns(slot: WorkerSlot, n: number, busyMs: number): void {
    if (n === 0) return
    const sample = busyMs / n
    this.#avgTaskMs = Number.isNaN(this.#avgTaskMs) ? sample : this.#avgTaskMs * 0.7 + sample * 0.3
    this.#host.stats.run.record(sample, n)
    slot.activity.tasks += n
  }

  /** Results of a worker with lanes: in the order they finished, each with its task's sequence number. */
  #onLanes(slot: WorkerSlot, message: Extract<FromWorker, { t: 'done' }>): void {
    const r = message.r
    const k = message.k!
    const n = r.length >> 1
    const host = this.#host
    const activity = slot.activity
    this.#recordRuns(slot, n, message.b)
    // Busy: the share of its lanes in use, so a worker whose N lanes are full is 1.
    activity.busyMs += (message.l ?? 0) / this.#options.concurrency
    const label = slot.handle.label
    // Progress first: every value was given before any result of this message was settled.
    const g = message.g
    if (g !== undefined) for (let i = 0; i < g.length; i += 2) slot.find(g[i] as number)?.reportProgress(g[i + 1] as unknown[])
    const c = message.c
    if (c !== undefined) {
      for (let i = 0; i < c.length; i += 2) {
        const f = slot.find(c[i] as number)
        if (f !== undefined && f.kind === KIND_CHUNK && !f.done()) host.addChunkPart(f, c[i + 1] as ChunkOutcome, label)
      }
    }
    for (let i = 0; i < n; i++) {
      const f = slot.take(k[i]!)
      if (f === undefined) continue // a late answer of a worker stopped meanwhile
      slot.received++
      if (r[2 * i] !== STATUS_OK) activity.failed++
      host.settle(f, r[2 * i] as number, r[2 * i + 1], label)
    }
    if (slot.inflight.length === 0) this.#onSlotIdle(slot)
    if (host.queue.length > 0) this.pump()
  }

  #onSlotIdle(slot: WorkerSlot): void {
    slot.exclusive = false
    if (slot.stopping || slot.killed) return
    if (slot.retiring || (this.#host.state !== 'RUNNING' && !this.#host.hasQueuedWork())) {
      this.#stopSlot(slot)
      return
    }
    if (slot.refd) {
      slot.refd = false
      slot.handle.unref()
    }
    const idleTimeout = this.#options.idleTimeout
    if (Number.isFinite(idleTimeout) && slot.idleTimer === undefined) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined
        if (slot.inflight.length === 0) this.#stopSlot(slot)
      }, idleTimeout)
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
    const host = this.#host
    const expected = slot.stopping || slot.killed || host.state === 'BROKEN'
    const inflight = slot.inflight.drain()
    if (inflight.length > 0) recoverInflight(slot, inflight, exit, host, this.#options.resourceLimits !== undefined, this.#options.concurrency)
    // A worker that started a task was ready, even if its 'ready' message died with it
    // (a task that kills its worker at once): that is a task's crash, not a start failure.
    const ranTasks = slot.handle.counters !== null && Atomics.load(slot.handle.counters, COUNTER_STARTED) > 0
    if (!slot.ready && !ranTasks && !expected) {
      this.#startFailures++
      if (this.#startFailures >= MAX_START_FAILURES) {
        const cause = slot.fatal ?? exit.error
        host.break(
          new BrokenExecutorError(
            `${MAX_START_FAILURES} ${this.#backend.name} workers in a row died before they were ready (last one: ${describeExit(exit)}${cause instanceof Error ? `: ${cause.message}` : ''})`,
            { cause },
          ),
        )
      }
    }
    if (host.queue.length > 0 && host.state !== 'BROKEN') host.schedulePump()
    if (this.#slots.size === 0) {
      const waiters = this.#exitWaiters
      this.#exitWaiters = []
      for (const w of waiters) w()
    }
  }
}

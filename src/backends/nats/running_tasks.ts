/**
 * The tasks a cluster worker runs, in local worker threads (a
 * ThreadPoolExecutor), so the connection's heartbeats never stall on CPU work.
 *
 *   units of a held message ──▶ cancelled? allowed? ──▶ runUnits (run_task.ts) in a thread ──▶ onResult
 *                                                  └──▶ a chunk: the pool's chunk, item by item ──┘
 *
 * A task runs as `runUnits` of run_task.ts under a reference that carries
 * the task's own label, so what the pool says of it (a crashed thread)
 * names the task, and errors thrown by the task come back serialized where
 * they were thrown: both are relayed to the caller as they are. A chunk
 * without shareable arguments runs as a chunk of the pool instead, so a
 * thread that dies in it costs only the running item. A cancel stops a
 * running task (its thread is terminated and replaced) and drops one not
 * started yet. A thread that dies (the task crashed it) fails that task
 * with WorkerCrashedError, or runs it again under its `retries`, as on a
 * local pool, and is replaced at once.
 */
import { ModuleNotAllowedError, WorkerCrashedError } from '../../errors.js'
import { ThreadPoolExecutor } from '../../futures/thread_pool_executor.js'
import { labelledTask, resolveTask, task, type TaskRef } from '../../task_ref.js'
import { FLAG_FLAT, FLAG_PROGRESS, FLAG_SHARED, KIND_CHUNK, KIND_MASK, STATUS_ERROR, STATUS_OK, type ChunkOutcome } from '../../wire/messages.js'
import { resolveModule } from '../../wire/library_module.js'
import { serializeError, type SerializedError } from '../../wire/remote_error.js'
import type { HeldMessage } from './held_message.js'
import type { ModuleAllowlist } from './module_allowlist.js'
import type { TaskUnit } from './protocol.js'
import type { UnitCall, UnitProgress } from './run_task.js'

const RUN_TASK_MODULE = new URL(`./run_task${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
type RunUnits = (units: UnitCall[]) => unknown[]
const RUN_BATCH = task<RunUnits>(RUN_TASK_MODULE, 'runUnits')
const WARM_UP = task<() => boolean>(RUN_TASK_MODULE, 'warmUp')
const CANCELLED_KEEP_MS = 10 * 60_000
const CANCELLED_MAX = 100_000
/** Labelled references kept at most (one per task function). */
const REFS_MAX = 10_000

export interface RunningTasksOptions {
  concurrency: number
  execArgv: string[] | undefined
  allowlist: ModuleAllowlist
  /** A task finished: its status (STATUS_OK, STATUS_ERROR), value or SerializedValue, and ms (-1: unknown). */
  onResult(held: HeldMessage, id: string, status: number, value: unknown, ms: number): void
  /** A task was stopped or dropped: nobody waits for its result. */
  onDropped(held: HeldMessage, id: string): void
  /** A running task gave progress() values (its caller listens), flattened: a chunk's item, value... */
  onProgress(held: HeldMessage, id: string, pairs: unknown[]): void
  log(line: string): void
  trace: boolean
}

/** How a unit is named in messages: `square (tasks.js)`, as the caller names it. */
export function unitLabel(unit: TaskUnit): string {
  const slash = unit.m.lastIndexOf('/')
  return `${unit.n} (${slash >= 0 ? unit.m.slice(slash + 1) : unit.m})`
}

export class RunningTasks {
  readonly #options: RunningTasksOptions
  readonly #local: ThreadPoolExecutor
  /** `session/id` of the tasks the caller stopped, with when. */
  readonly #cancelled = new Map<string, number>()
  readonly #refs = new Map<string, TaskRef<RunUnits>>()
  /** Tasks finished since start (for logs and tests). */
  completed = 0

  constructor(options: RunningTasksOptions) {
    this.#options = options
    this.#local = new ThreadPoolExecutor({ maxWorkers: options.concurrency, ...(options.execArgv !== undefined ? { execArgv: options.execArgv } : {}) })
  }

  /** Starts every thread now (a task with a signal gets a thread of its own), so the first tasks find them ready. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.concurrency }, () => this.#warmUp()))
  }

  /** The local pool's state (for logs). */
  stats(): unknown {
    return this.#local.stats()
  }

  /** Stops every thread. */
  terminate(): Promise<void> {
    return this.#local.terminateWorkers()
  }

  /**
   * Runs the tasks of a held message. Several run as one local task on one
   * thread (the caller packs bursts of tasks that have no timeout or
   * signal); if that thread crashes, they run again one by one, so that
   * only the culprit fails.
   */
  run(held: HeldMessage, units: TaskUnit[]): void {
    if (units.length === 1) {
      this.#runUnit(held, units[0]!)
      return
    }
    const runnable = units.filter((unit) => this.#runnable(held, unit))
    if (runnable.length === 0 || held.dead) return
    const controller = new AbortController()
    const key = runnable.map((u) => u.id).join(',')
    held.controllers.set(key, controller)
    const onProgress = runnable.some(listened)
      ? (p: unknown): void => {
          const { u, p: pairs } = p as UnitProgress
          const unit = runnable[u]
          if (unit !== undefined) this.#options.onProgress(held, unit.id, pairs)
        }
      : undefined
    this.#local.submitWith({ signal: controller.signal, onProgress }, RUN_BATCH, runnable.map(unitCall)).then(
      (out) => {
        held.controllers.delete(key)
        this.completed += runnable.length
        runnable.forEach((unit, i) => this.#options.onResult(held, unit.id, out[3 * i] as number, out[3 * i + 1], out[3 * i + 2] as number))
      },
      () => {
        held.controllers.delete(key)
        if (controller.signal.aborted) {
          this.#warmUp()
          for (const unit of runnable) this.#options.onDropped(held, unit.id)
          return
        }
        for (const unit of runnable) this.#runUnit(held, unit)
      },
    )
  }

  /** The caller stops these tasks of `session`: running ones (in `held`) are stopped, the others dropped when their turn comes. */
  cancel(session: string, ids: readonly string[], held: Iterable<HeldMessage>): void {
    const now = performance.now()
    for (const id of ids) this.#cancelled.set(`${session}/${id}`, now)
    if (this.#cancelled.size > CANCELLED_MAX) {
      for (const [key, at] of this.#cancelled) if (now - at > CANCELLED_KEEP_MS || this.#cancelled.size > CANCELLED_MAX) this.#cancelled.delete(key)
    }
    for (const h of held) {
      if (h.session !== session) continue
      for (const id of ids) h.controllers.get(id)?.abort()
    }
  }

  /** False (and the task dropped or refused) when it was cancelled or its module is not allowed. */
  #runnable(held: HeldMessage, unit: TaskUnit): boolean {
    if (this.#cancelled.has(`${held.session}/${unit.id}`)) {
      this.#options.onDropped(held, unit.id)
      return false
    }
    const refusal = this.#options.allowlist.refusal(unit)
    if (refusal === null) return true
    this.#options.onResult(held, unit.id, STATUS_ERROR, serializeError(new ModuleNotAllowedError(refusal)), 0)
    return false
  }

  #runUnit(held: HeldMessage, unit: TaskUnit): void {
    if (this.#options.trace) this.#options.log(`run ${held.session}/${unit.id} ${unit.n} dead=${held.dead} cancelled=${this.#cancelled.has(`${held.session}/${unit.id}`)}`)
    if (held.dead || !this.#runnable(held, unit)) return
    const controller = new AbortController()
    held.controllers.set(unit.id, controller)
    if ((unit.k & KIND_MASK) === KIND_CHUNK && (unit.k & FLAG_SHARED) === 0) {
      this.#runChunk(held, unit, controller)
      return
    }
    const onProgress = listened(unit) ? (p: unknown): void => this.#options.onProgress(held, unit.id, (p as UnitProgress).p) : undefined
    this.#local.submitWith({ signal: controller.signal, retries: unit.r, onProgress }, this.#ref(unit), [unitCall(unit)]).then(
      (out) => {
        held.controllers.delete(unit.id)
        this.completed++
        this.#options.onResult(held, unit.id, out[0] as number, out[1], out[2] as number)
      },
      (error: unknown) => {
        held.controllers.delete(unit.id)
        if (controller.signal.aborted) {
          // Stopped on the caller's request (or the caller is gone): nobody waits for this result.
          // Its thread was terminated: start the replacement now, not when the next task needs it.
          this.#warmUp()
          this.#options.onDropped(held, unit.id)
          return
        }
        // Said by the local pool (a crashed thread, a result it could not clone), of this task by its label.
        // A crashed thread is replaced now, as after a stop, not when the next task needs it.
        if (error instanceof WorkerCrashedError) this.#warmUp()
        this.#options.onResult(held, unit.id, STATUS_ERROR, serializeError(error), -1)
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
  #runChunk(held: HeldMessage, unit: TaskUnit, controller: AbortController): void {
    let future
    try {
      const onProgress = listened(unit) ? this.#chunkProgress(held, unit.id) : undefined
      const resolved = resolveTask(task(resolveModule(unit.m), unit.n))
      // A flat chunk (one argument per item) stays flat on its way to the thread.
      future =
        (unit.k & FLAG_FLAT) !== 0
          ? this.#local.submitItems(resolved, unit.a, onProgress, unit.r)
          : this.#local.submitChunk(resolved, unit.a as unknown[][], unit.r, onProgress)
    } catch (error) {
      held.controllers.delete(unit.id)
      this.#options.onResult(held, unit.id, STATUS_ERROR, serializeError(error), -1)
      return
    }
    // Only a chunk still queued can be stopped; a running one finishes and its result is dropped.
    controller.signal.addEventListener('abort', () => future.cancel(), { once: true })
    future.then(
      (result) => {
        held.controllers.delete(unit.id)
        this.completed++
        const outcome: ChunkOutcome = { v: result.values, e: undefined, d: result.ms }
        if (result.errors !== undefined) for (const [i, error] of result.errors) (outcome.e ??= []).push([i, serializeError(error) as SerializedError])
        this.#options.onResult(held, unit.id, STATUS_OK, outcome, result.ms / Math.max(1, result.values.length))
      },
      (error: unknown) => {
        held.controllers.delete(unit.id)
        if (controller.signal.aborted) {
          this.#options.onDropped(held, unit.id)
          return
        }
        this.#options.onResult(held, unit.id, STATUS_ERROR, serializeError(error), -1)
      },
    )
  }

  /** Hears a chunk's values one by one; what arrives in one turn goes on as one message. */
  #chunkProgress(held: HeldMessage, id: string): (value: unknown, item: number) => void {
    let pairs: unknown[] = []
    return (value, item) => {
      if (pairs.length === 0)
        queueMicrotask(() => {
          const out = pairs
          pairs = []
          this.#options.onProgress(held, id, out)
        })
      pairs.push(item, value)
    }
  }

  /** `runUnits` under the unit's own label. */
  #ref(unit: TaskUnit): TaskRef<RunUnits> {
    const label = unitLabel(unit)
    let ref = this.#refs.get(label)
    if (ref === undefined) {
      if (this.#refs.size >= REFS_MAX) this.#refs.clear()
      ref = labelledTask<RunUnits>(RUN_TASK_MODULE, 'runUnits', label)
      this.#refs.set(label, ref)
    }
    return ref
  }

  /** Runs a no-op on a thread of its own: starts a thread when fewer than `concurrency` run. */
  #warmUp(): Promise<unknown> {
    return this.#local.submitWith({ signal: new AbortController().signal }, WARM_UP).catch(() => {})
  }
}

/** Its caller listens to its progress() values. */
function listened(unit: TaskUnit): boolean {
  return (unit.k & FLAG_PROGRESS) !== 0
}

function unitCall(unit: TaskUnit): UnitCall {
  return [unit.k, unit.m, unit.n, unit.a]
}

/**
 * The interface between the submission layer (task_executor.ts), which owns
 * every Future from submit to settle, and a scheduler, which gets queued
 * tasks to workers and their outcomes back:
 *
 *   TaskExecutor ── queue ──▶ Scheduler.pump() ──▶ workers (local slots; the cluster's stream)
 *        ▲                                              │
 *        └──── host.settle(f, status, value, worker) ◀──┘
 *
 * Two schedulers exist: LocalScheduler (futures/local_scheduler.ts: worker
 * slots, batching, spawning, crash recovery) and ClusterScheduler
 * (backends/nats/cluster_scheduler.ts: JetStream publishing, results by id,
 * cancel broadcast). Timeouts, signals, shutdown and breaking are written
 * once, above both.
 */
import type { Capabilities } from '../backends/capabilities.js'
import type { Deque } from '../internal/deque.js'
import type { ChunkOutcome } from '../wire/messages.js'
import type { TaskStats } from './stats.js'
import type { TaskFuture } from './task_future.js'

/** How `map` sizes its automatic chunks on a scheduler. */
export interface AutoChunk {
  /** Milliseconds of worker time a chunk should take. */
  targetMs: number
  /** Items a chunk holds at most. */
  maxItems: number
}

/** An executor's stage: accepting tasks, shutting down (`shutdown()` or `terminateWorkers()` called), or broken (its workers cannot start, or the cluster connection is gone). */
export type ExecutorState = 'RUNNING' | 'SHUTDOWN' | 'BROKEN'

/** One worker's activity, in `stats().perWorker`. */
export interface WorkerStats {
  /** Its label: "thread worker 3", "nats worker host:pid". */
  worker: string
  /** Tasks it finished (a map chunk is one). */
  tasks: number
  /** Of those, the ones that failed. */
  failed: number
  /**
   * The share of the time since the previous `stats()` call (or since it
   * started, or first ran a task of this executor) it spent running tasks:
   * 0 to 1 (a cluster worker that runs tasks on N threads can reach N). A
   * local worker that runs N tasks at once (`concurrentTasksPerWorker`):
   * the share of its N lanes in use, 1 when all of them were busy.
   */
  busy: number
}

/** What a scheduler may ask of the executor above it. */
export interface SchedulerHost {
  /** Tasks ready to run, in order. The scheduler takes from the front (and puts back at the front a task it must run again). */
  readonly queue: Deque<TaskFuture>
  readonly state: ExecutorState
  /** Futures not settled yet. */
  readonly pending: number
  /** Where the scheduler records wait and run times, workers started and runs again. */
  readonly stats: TaskStats
  /** Asks for a `pump()` in a microtask (coalesced: a burst of submits is one pump). */
  schedulePump(): void
  /** True while a queued task (or one being verified) still has to run. Drops settled tasks from the queue's head. */
  hasQueuedWork(): boolean
  /** A task's outcome from a worker: the value or chunk outcome (STATUS_OK), or a serialized error. */
  settle(f: TaskFuture, status: number, value: unknown, worker: string): void
  /** Values a worker sent ahead for the running chunk `f`. */
  addChunkPart(f: TaskFuture, part: ChunkOutcome, worker: string): void
  /** The executor cannot go on (workers cannot start, the connection is gone): every pending Future fails with `error`. */
  break(error: Error): void
}

/** Gets tasks to workers; see the top of this file. */
export interface Scheduler {
  /** The backend's name, for messages: 'thread', 'process', 'inline', 'nats'. */
  readonly name: string
  readonly capabilities: Capabilities
  /** Tasks that run at once at most (workers; on the cluster, tasks in flight). */
  readonly maxWorkers: number
  /** Tasks one worker runs at once at most (`concurrentTasksPerWorker`); 1 on the cluster, whose workers are configured where they run. */
  readonly concurrency: number
  /** Called once by the executor before any other call. */
  attach(host: SchedulerHost): void
  /** A task was submitted: get ready for it (start a first worker, connect) while it is checked. */
  prepare(): void
  /** Sends `f` at once if a worker is idle and nothing is queued (the idle round trip); false: queue it. */
  dispatchNow(f: TaskFuture): boolean
  /**
   * True when `dispatchNow` moves a task's `transfer` buffers as it sends it
   * (postMessage to a thread, the inline backend's structured clone): the
   * executor then leaves them in place until it knows the task waits.
   */
  readonly movesTransfers?: boolean
  /** Sends queued tasks to workers, as many as they take. */
  pump(): void
  /** How the running task `f` will be stopped, for its error message ("thread worker 3 was stopped and replaced"). */
  describeStop(f: TaskFuture): string
  /** Stops the running task `f` (its Future is settled already). */
  stopRunning(f: TaskFuture): void

  /** Tasks on workers, not settled. */
  running(): Iterable<TaskFuture>
  /** How many tasks are on workers. */
  runningCount(): number
  /** Workers alive (local), or workers that ran this executor's tasks (cluster). */
  workerCount(): number
  /** Per worker: tasks done and failed, and the share of the time since the previous call it spent running tasks. */
  workerStats(): WorkerStats[]
  /** A Future settled (optional: only the cluster tracks tasks by id). */
  taskDone?(f: TaskFuture): void
  /**
   * How `map`'s automatic chunks are sized here: the worker time a chunk
   * should take, and the most items it may hold. Absent: the local sizing
   * (from about 1 ms growing with the work done to 8 ms, 4096 items; map_engine.ts).
   */
  autoChunk?(): AutoChunk
  /** Nothing is pending. Shutting down: let go of workers (local) or the connection (cluster). */
  idle(): void
  /** Resolves once the workers are gone (local) or the connection is closed (cluster), after shutdown. */
  close(): Promise<void>
  /** Stops every worker now; running Futures are settled already. Resolves once they are gone. */
  terminate(): Promise<void>
  /** The executor broke: stop every worker; pending Futures are failed already. */
  broken(): void
}

/**
 * How a batch treats an exclusive task (one with a timeout or a signal):
 * 'alone', it is taken when it comes first and ends the batch (the
 * cluster); 'apart', the batch stops before it (the local scheduler gives
 * it a worker of its own); 'shared', it is taken like any other (local
 * workers that run several tasks at once: stopping it re-runs the others).
 */
export type ExclusiveRule = 'alone' | 'apart' | 'shared'

/**
 * Takes up to `room` tasks from the front of the queue and marks them
 * RUNNING, skipping settled ones; exclusive tasks as `rule` says.
 */
export function takeBatch(queue: Deque<TaskFuture>, room: number, rule: ExclusiveRule): TaskFuture[] {
  const shared = rule === 'shared'
  const exclusiveAlone = rule === 'alone'
  const batch: TaskFuture[] = []
  while (batch.length < room && queue.length > 0) {
    const f = queue.peek()!
    if (f.done()) {
      queue.shift()
      continue
    }
    if (f.exclusive && !shared && (!exclusiveAlone || batch.length > 0)) break
    queue.shift()
    if (!f.setRunningOrNotifyCancel()) continue
    batch.push(f)
    if (f.exclusive && !shared) break
  }
  return batch
}

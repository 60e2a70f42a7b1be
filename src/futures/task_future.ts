/**
 * The Future of one submitted task, with what the executor needs to run it:
 * the task, its arguments until it settles, its per-task options, and where
 * its scheduler placed it. Created by the submission layer
 * (task_executor.ts) and moved around by a scheduler (scheduler.ts).
 */
import type { ResolvedTask } from '../task_ref.js'
import type { Transferable } from '../wire/transfer.js'
import type { TaskKind } from '../wire/messages.js'
import type { ChunkProgress } from './chunk_progress.js'
import type { RetryPolicy } from './retry_policy.js'
import { Future, kCancelRunning, promiseConstructor } from './future.js'

/**
 * Hears a running task's `progress()` values (task.ts): `item` is the index
 * of the chunk's item that gave it (0 for a call).
 */
export type ProgressListener = (value: unknown, item: number) => void

export class TaskFuture<T = unknown> extends Future<T> {
  /** The arguments (a call) or the items (a chunk); dropped once settled. */
  args: unknown[] | null
  /** The arguments hold share descriptors (a Lock, a Queue...) the worker must revive. */
  shared = false
  /** A chunk whose args are the items themselves, one argument each (FLAG_FLAT). */
  flat = false
  /**
   * Where the scheduler placed the task once dispatched: the worker slot
   * (local), the task id (cluster); null while queued.
   */
  placed: unknown = null
  /** Its place among the tasks sent to its worker (local): a worker that runs several at once answers by it. */
  seq = 0
  timer: NodeJS.Timeout | undefined = undefined
  onAbort: (() => void) | undefined = undefined
  /** The submitter's stack, when MULTIPROC_CALLER_STACKS=1 (appended to a task's error). */
  callerStack: string | undefined = undefined
  /** performance.now() when it was queued (for the wait-time histogram). */
  queuedAt = 0
  /** performance.now() when it was last sent to a worker (the cluster measures its round trips with it). */
  sentAt = 0
  /** A chunk's outcome so far, once it came in pieces or its worker crashed (chunk_progress.ts). */
  progress: ChunkProgress | null = null
  /** Stops the task while it runs, when its backend can do that alone (Capabilities.cancelsRunning). */
  canceller: (() => void) | undefined = undefined
  /** Who hears the task's progress() values; the worker sends none when nobody does. */
  onProgress: ProgressListener | undefined = undefined
  /** Which errors the task threw run it again (`retryOn`); null: none. */
  retryPolicy: RetryPolicy | null = null
  /** Runs under `retryOn` so far: the current run is number `reruns + 1`. */
  reruns = 0
  /** The wait before a run again under `retryOn`. */
  retryTimer: NodeJS.Timeout | undefined = undefined

  constructor(
    readonly task: ResolvedTask,
    readonly kind: TaskKind,
    args: unknown[],
    /** Replaced once by the executor when it moves the buffers in (task_executor.ts). */
    public transfer: readonly Transferable[] | undefined,
    /** A task with a timeout or a signal: it may have to be stopped alone, so it runs alone. */
    readonly exclusive: boolean,
    public retries: number,
    readonly signal: AbortSignal | undefined,
    readonly timeout: number | undefined,
  ) {
    super()
    this.args = args
  }

  override [kCancelRunning](): boolean {
    if (this.canceller === undefined) return false
    this.canceller()
    return true
  }

  /**
   * Progress values from the worker that runs this task, flattened as item,
   * value... where item counts within the chunk's current dispatch
   * (chunk_progress.ts maps it back). Dropped once the task settled: a late
   * message reaches nobody.
   */
  reportProgress(pairs: unknown[]): void {
    const listener = this.onProgress
    for (let k = 0; k + 1 < pairs.length; k += 2) {
      if (listener === undefined || this.done()) return
      const item = pairs[k] as number
      try {
        listener(pairs[k + 1], this.progress === null ? item : this.progress.itemAt(item))
      } catch (error) {
        const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error)
        process.emitWarning(`An onProgress listener of task ${this.task.label} threw: ${detail}`, { type: 'MultiprocWarning', code: 'MP_PROGRESS_LISTENER' })
      }
    }
  }
}

// `await` and Promise.all take a TaskFuture as it is (see future.ts).
promiseConstructor(TaskFuture)

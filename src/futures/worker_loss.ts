/**
 * A local worker and what happens to its tasks when it dies.
 *
 * The thread backend shares [started, finished, item] counters with each
 * worker. When a worker dies, its in-flight list splits exactly into:
 * finished (result lost in the ≤ 1 ms flush window: run again), running
 * (fails with WorkerCrashedError, or is retried under `retries`), and not
 * started (re-queued at the front, order kept). Nothing is ever lost or left
 * pending. The process backend has no shared memory; it reads the same
 * counters from a small file the worker updates before each task.
 *
 * Chunks. The third counter holds the index of the chunk item that started
 * last, and a long chunk sends its finished values ahead (runtime.ts). When
 * a worker dies in a chunk, the values that arrived stay, the running item
 * fails (or is retried: `retries` counts per item), and the items without a
 * value are sent again as the rest of the same chunk, which settles once
 * every item has an outcome (chunk_progress.ts).
 */
import { WorkerCrashedError } from '../errors.js'
import type { WorkerExit, WorkerHandle } from '../backends/backend.js'
import { Deque } from '../internal/deque.js'
import { KIND_CHUNK } from '../wire/messages.js'
import { COUNTER_FINISHED, COUNTER_ITEM, COUNTER_STARTED } from '../worker/runtime.js'
import { ChunkProgress } from './chunk_progress.js'
import type { ChunkResult } from './executor.js'
import { kRequeue } from './future.js'
import type { SchedulerHost } from './scheduler.js'
import { WorkerActivity } from './stats.js'
import type { TaskFuture } from './task_future.js'

/** One local worker as the scheduler sees it: its handle, its in-flight tasks (FIFO) and its state. */
export class WorkerSlot {
  handle!: WorkerHandle
  readonly inflight = new Deque<TaskFuture>()
  /** Function indexes this worker was told about (FunctionDecl). */
  readonly known = new Set<number>()
  ready = false
  /** Results received from it, and tasks sent to it, since it started. */
  received = 0
  dispatched = 0
  /** It runs a killable task, alone. */
  exclusive = false
  /** It reached maxTasksPerChild: it stops once idle. */
  retiring = false
  stopping = false
  killed = false
  refd = false
  budgeted = false
  /** The error it reported before it died ('fatal'), if any. */
  fatal: unknown = undefined
  /** Tasks done and failed, and time busy, for stats(). */
  readonly activity = new WorkerActivity()
  idleTimer: NodeJS.Timeout | undefined = undefined
  stopTimer: NodeJS.Timeout | undefined = undefined
}

/**
 * Settles or re-queues the tasks a dead worker held (see the top of this
 * file). `limited`: the workers have resourceLimits (named when one runs out
 * of memory).
 */
export function recoverInflight(slot: WorkerSlot, inflight: TaskFuture[], exit: WorkerExit, host: SchedulerHost, limited: boolean): void {
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
  const crash = (f: TaskFuture, finishedBefore: boolean, index?: number): WorkerCrashedError => crashError(slot, exit, f, finishedBefore, limited, index)
  const requeue: TaskFuture[] = []
  for (let i = 0; i < inflight.length; i++) {
    const f = inflight[i]!
    f.placed = null
    if (f.done()) continue
    if (f.kind === KIND_CHUNK) {
      if (recoverChunk(f, i === running ? item : null, crash, host)) requeue.push(f)
      continue
    }
    const lostInputs = f.transfer !== undefined && f.transfer.length > 0
    if (i === running) {
      if (f.retries > 0 && !lostInputs) {
        f.retries--
        host.stats.retried++
        requeue.push(f)
      } else {
        f.setException(crash(f, i < finished))
      }
    } else if (lostInputs) {
      f.setException(crash(f, i < finished))
    } else {
      requeue.push(f)
    }
  }
  for (let i = requeue.length - 1; i >= 0; i--) {
    const f = requeue[i]!
    f[kRequeue]()
    host.queue.unshift(f)
  }
}

/**
 * A chunk whose worker died: keeps the values that arrived, fails the item
 * that was running (`item`, counted in the chunk as sent; null when the
 * chunk was not running) unless it has a retry left, and returns true when
 * items are left to send again (the chunk then holds only those).
 */
function recoverChunk(
  f: TaskFuture,
  item: number | null,
  crash: (f: TaskFuture, finishedBefore: boolean, index?: number) => WorkerCrashedError,
  host: SchedulerHost,
): boolean {
  const progress = (f.progress ??= new ChunkProgress(f.args!))
  if (item !== null) {
    // Unknown (no counters): the first item without a value.
    const index = progress.itemAt(item < 0 ? progress.received : item)
    if (!progress.has(index)) {
      if (progress.takeRetry(index, f.retries)) host.stats.retried++
      else progress.fail(index, crash(f, false, index))
    }
  }
  if (progress.complete) {
    ;(f as TaskFuture<ChunkResult>).setResult(progress.result())
    return false
  }
  f.args = progress.resend()
  return true
}

function crashError(slot: WorkerSlot, exit: WorkerExit, f: TaskFuture, finishedBefore: boolean, limited: boolean, item?: number): WorkerCrashedError {
  const cause = slot.fatal ?? exit.error
  const oom = (exit.error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY'
  const how = oom ? `ran out of memory${limited ? ' (resourceLimits)' : ''}` : describeExit(exit)
  const detail = !oom && cause instanceof Error ? `: ${cause.name}: ${cause.message}` : ''
  const when = item !== undefined ? `while running item ${item} of a chunk of task` : finishedBefore ? 'after it ran task' : 'while running task'
  const label = slot.handle.label
  return new WorkerCrashedError(
    `${label.charAt(0).toUpperCase()}${label.slice(1)} ${how} ${when} ${f.task.label}${detail}. The worker was replaced; no other task is affected`,
    { workerId: label, exitCode: exit.exitCode, signal: exit.signal, task: f.task.label },
    cause !== undefined ? { cause } : undefined,
  )
}

export function describeExit(exit: WorkerExit): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`
  if (exit.exitCode === null) return 'died'
  return `exited with code ${exit.exitCode}`
}

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
 *
 * Lanes (`concurrentTasksPerWorker` > 1). A worker runs several tasks at
 * once and answers as they finish, so the caller cannot tell which one
 * killed it: every task it held that had started fails (or runs again under
 * `retries`), and so does every item of a chunk that had started without
 * its value coming back. Tasks start in the order sent, so the started
 * counter says exactly which had started; the rest are re-queued. A worker
 * terminated to stop one of its tasks (a timeout, an aborted signal) is no
 * crash: the other tasks it held did nothing wrong, so they are re-queued,
 * as they are, without using a retry (a task re-run so may have done part
 * of its work already; a task that must not run twice should not share a
 * worker with tasks that can time out).
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
  /** It was terminated to stop one of its tasks (timeout, signal), not by a crash: the others it held are innocent. */
  stoppedForTask = false
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

  /** The in-flight task of sequence number `seq` (a worker with lanes answers by it), or undefined. */
  find(seq: number): TaskFuture | undefined {
    const index = this.#indexOf(seq)
    return index < 0 ? undefined : this.inflight.at(index)
  }

  /** Removes and returns the in-flight task of sequence number `seq`, or undefined. */
  take(seq: number): TaskFuture | undefined {
    const index = this.#indexOf(seq)
    return index < 0 ? undefined : this.inflight.removeAt(index)
  }

  /** Binary search: the in-flight list stays in the order sent, so in order of `seq`. */
  #indexOf(seq: number): number {
    const inflight = this.inflight
    let lo = 0
    let hi = inflight.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const at = inflight.at(mid)!.seq
      if (at === seq) return mid
      if (at < seq) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }
}

/**
 * Settles or re-queues the tasks a dead worker held (see the top of this
 * file). `limited`: the workers have resourceLimits (named when one runs out
 * of memory). `lanes`: tasks the worker ran at once at most.
 */
export function recoverInflight(slot: WorkerSlot, inflight: TaskFuture[], exit: WorkerExit, host: SchedulerHost, limited: boolean, lanes = 1): void {
  if (lanes > 1) {
    recoverLanes(slot, inflight, exit, host, limited, lanes)
    return
  }
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
      // The item that was running; unknown (no counters): the first item without a value.
      let from = 0
      let to = 0
      if (i === running) {
        from = item < 0 ? (f.progress?.received ?? 0) : item
        to = from + 1
      }
      if (recoverChunk(f, from, to, (c, index) => crash(c, false, index), host)) requeue.push(f)
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
  requeueAll(requeue, host)
}

/** Puts tasks back at the front of the queue, in their order. */
function requeueAll(requeue: TaskFuture[], host: SchedulerHost): void {
  for (let i = requeue.length - 1; i >= 0; i--) {
    const f = requeue[i]!
    f[kRequeue]()
    host.queue.unshift(f)
  }
}

/** recoverInflight for a worker with lanes (see the top of this file). */
function recoverLanes(slot: WorkerSlot, inflight: TaskFuture[], exit: WorkerExit, host: SchedulerHost, limited: boolean, lanes: number): void {
  const counters = slot.handle.counters
  // Tasks sent to it that had started (they start in the order sent); the item of the last one started last.
  const started = counters !== null ? Atomics.load(counters, COUNTER_STARTED) : slot.ready ? slot.dispatched : 0
  const item = counters !== null ? Atomics.load(counters, COUNTER_ITEM) : -1
  const crash = (f: TaskFuture, index?: number): WorkerCrashedError => crashError(slot, exit, f, false, limited, index, lanes)
  const requeue: TaskFuture[] = []
  for (const f of inflight) {
    f.placed = null
    if (f.done()) continue
    const hadStarted = ((f.seq - started) | 0) < 0
    // Innocent (the worker was stopped for another task) or not started: nothing is blamed.
    const blamed = hadStarted && !slot.stoppedForTask
    if (f.kind === KIND_CHUNK) {
      // Its items started in order: all of them, unless it is the task started last.
      const count = f.args!.length // the items of this dispatch (the rest of the chunk after an earlier crash)
      const last = ((f.seq - started + 1) | 0) === 0
      const to = !blamed ? 0 : last && item >= 0 ? Math.min(item + 1, count) : count
      if (recoverChunk(f, 0, to, crash, host)) requeue.push(f)
      continue
    }
    if (f.transfer !== undefined && f.transfer.length > 0) {
      // Its transferred inputs went with the worker: it cannot run again.
      f.setException(slot.stoppedForTask ? stoppedError(slot, f) : crash(f))
    } else if (!blamed) {
      requeue.push(f)
    } else if (f.retries > 0) {
      f.retries--
      host.stats.retried++
      requeue.push(f)
    } else {
      f.setException(crash(f))
    }
  }
  requeueAll(requeue, host)
}

/**
 * A chunk whose worker died: keeps the values that arrived, fails the items
 * that were running (those in [from, to), counted in the chunk as sent,
 * without a value) unless they have a retry left, and returns true when
 * items are left to send again (the chunk then holds only those).
 */
function recoverChunk(f: TaskFuture, from: number, to: number, crash: (f: TaskFuture, index: number) => WorkerCrashedError, host: SchedulerHost): boolean {
  const progress = (f.progress ??= new ChunkProgress(f.args!))
  for (let j = from; j < to; j++) {
    const index = progress.itemAt(j)
    if (!progress.has(index)) {
      if (progress.takeRetry(index, f.retries)) host.stats.retried++
      else progress.fail(index, crash(f, index))
    }
  }
  if (progress.complete) {
    ;(f as TaskFuture<ChunkResult>).setResult(progress.result())
    return false
  }
  f.args = progress.resend()
  return true
}

/**
 * The error of a task whose worker died. `lanes` > 1: the worker ran
 * several tasks at once, so which one killed it is unknown.
 */
function crashError(
  slot: WorkerSlot,
  exit: WorkerExit,
  f: TaskFuture,
  finishedBefore: boolean,
  limited: boolean,
  item?: number,
  lanes = 1,
): WorkerCrashedError {
  const cause = slot.fatal ?? exit.error
  const oom = (exit.error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY'
  const how = oom ? `ran out of memory${limited ? ' (resourceLimits)' : ''}` : describeExit(exit)
  const detail = !oom && cause instanceof Error ? `: ${cause.name}: ${cause.message}` : ''
  const when = item !== undefined ? `while running item ${item} of a chunk of task` : finishedBefore ? 'after it ran task' : 'while running task'
  const label = slot.handle.label
  const others =
    lanes === 1
      ? 'no other task is affected'
      : `it ran up to ${lanes} tasks at once (concurrentTasksPerWorker), and every task and chunk item it had started fails (or runs again under retries), ` +
        'as any of them may have killed it; tasks on other workers are not affected'
  return new WorkerCrashedError(
    `${capitalized(label)} ${how} ${when} ${f.task.label}${detail}. The worker was replaced; ${others}`,
    { workerId: label, exitCode: exit.exitCode, signal: exit.signal, task: f.task.label },
    cause !== undefined ? { cause } : undefined,
  )
}

/** The error of a task whose worker was stopped for another task, when it cannot run again (its transferred inputs went with the worker). */
function stoppedError(slot: WorkerSlot, f: TaskFuture): WorkerCrashedError {
  const label = slot.handle.label
  return new WorkerCrashedError(
    `${capitalized(label)} was stopped to end another task it ran at once (a timeout or an aborted signal) while it ran task ${f.task.label}, ` +
      'which cannot run again elsewhere: its transferred inputs went with the worker',
    { workerId: label, exitCode: null, signal: null, task: f.task.label },
  )
}

function capitalized(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`
}

export function describeExit(exit: WorkerExit): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`
  if (exit.exitCode === null) return 'died'
  return `exited with code ${exit.exitCode}`
}

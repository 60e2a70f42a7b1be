/**
 * What a cluster worker has done since it started, as plain counters: the
 * status records (worker_status.ts) and the Prometheus metrics
 * (worker_metrics.ts) read them when asked, so the task path pays for a few
 * additions and nothing else. A "task" is a unit of a task message as the
 * caller sent it: one submit, or one chunk of a `map` (its items are not
 * counted one by one).
 */
import { STATUS_OK } from '../../wire/messages.js'

/** Called once per finished task while metrics are on (the duration histogram needs each one). */
export type FinishObserver = (ok: boolean, ms: number) => void

export class WorkerActivity {
  /** When the worker started (epoch ms). */
  readonly startedAt = Date.now()
  /** Task messages received (a message carries one task or a burst of them). */
  messages = 0
  /** Task messages received again (JetStream delivery count above 1): their first worker died, hung or gave them back. */
  redelivered = 0
  /** Task messages a caller handed to this worker directly, around the stream (it was idle). */
  direct = 0
  /** Tasks handed to the local threads. */
  started = 0
  /** Of those, runs again that a caller sent because the task threw an error its `retryOn` names. */
  retried = 0
  /** Tasks that returned (a chunk whose items threw still returned). */
  succeeded = 0
  /** Tasks that threw, could not run, were refused or were poison tasks. */
  failed = 0
  /** Tasks stopped or dropped because their caller cancelled them or left. */
  dropped = 0
  /** Heartbeat rounds (in-progress signals to JetStream, pings to callers). */
  heartbeats = 0
  /** When the last heartbeat round ran (epoch ms; 0: none yet). */
  heartbeatAt = 0
  /** Set by the metrics while they are on. */
  observer: FinishObserver | null = null

  /** Tasks started and not finished yet (running, or waiting for a thread of this worker). */
  get running(): number {
    return Math.max(0, this.started - this.succeeded - this.failed - this.dropped)
  }

  /** A task message arrived, delivered for the `deliveries`-th time. */
  received(deliveries: number): void {
    this.messages++
    if (deliveries > 1) this.redelivered++
  }

  /** A task finished with `status` (STATUS_OK or STATUS_ERROR) after `ms` (-1: unknown). */
  finished(status: number, ms: number): void {
    const ok = status === STATUS_OK
    if (ok) this.succeeded++
    else this.failed++
    this.observer?.(ok, ms)
  }

  beat(): void {
    this.heartbeats++
    this.heartbeatAt = Date.now()
  }
}

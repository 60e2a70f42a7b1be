/**
 * What an executor counts about its work, always on: tasks by outcome, and
 * two histograms, the time tasks waited for a worker and the time they ran.
 *
 * The histograms have fixed buckets, 1-2-5 steps from 10 µs to 100 s (22
 * bounds and an overflow), so recording is a few comparisons and no
 * allocation, and a percentile is read from the counts (linear within its
 * bucket, so within a factor of 2.5 of the truth at worst, and never above
 * the largest value seen). Written here rather than taken from a histogram
 * library because the core has no runtime dependency and this is all it
 * needs: an HDR histogram's precision would cost more per task than the
 * ≤ 3 % of a no-op burst that always-on stats may cost.
 */

import type { ExecutorState, WorkerStats } from './scheduler.js'

/** Upper bounds of the buckets, in milliseconds. */
const BOUNDS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]

/** One bucket of a histogram. */
export interface HistogramBucket {
  /** Its upper bound in milliseconds (`Infinity`: the overflow bucket). */
  le: number
  /** Durations in it: above the previous bucket's bound, at most `le`. */
  count: number
}

/** A histogram of durations, as `stats()` reports it. */
export interface HistogramSnapshot {
  /** Durations recorded. */
  count: number
  /** Their mean, in milliseconds. */
  mean: number
  /** The largest, in milliseconds. */
  max: number
  /** The median, in milliseconds (read from the buckets). */
  p50: number
  /** The 90th percentile, in milliseconds. */
  p90: number
  /** The 99th percentile, in milliseconds. */
  p99: number
  /** The non-empty buckets, in order. */
  buckets: HistogramBucket[]
}

export class Histogram {
  readonly #counts = new Float64Array(BOUNDS.length + 1)
  #count = 0
  #sum = 0
  #max = 0

  /** Records `n` durations of `ms` milliseconds each. */
  record(ms: number, n = 1): void {
    let i = 0
    while (i < BOUNDS.length && ms > BOUNDS[i]!) i++
    this.#counts[i]! += n
    this.#count += n
    this.#sum += ms * n
    if (ms > this.#max) this.#max = ms
  }

  snapshot(): HistogramSnapshot {
    const buckets: HistogramBucket[] = []
    for (let i = 0; i < this.#counts.length; i++) if (this.#counts[i]! > 0) buckets.push({ le: BOUNDS[i] ?? Infinity, count: this.#counts[i]! })
    return {
      count: this.#count,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
      max: this.#max,
      p50: this.#quantile(0.5),
      p90: this.#quantile(0.9),
      p99: this.#quantile(0.99),
      buckets,
    }
  }

  #quantile(q: number): number {
    if (this.#count === 0) return 0
    const rank = q * this.#count
    let seen = 0
    for (let i = 0; i < this.#counts.length; i++) {
      const inBucket = this.#counts[i]!
      if (inBucket === 0 || seen + inBucket < rank) {
        seen += inBucket
        continue
      }
      const low = i === 0 ? 0 : BOUNDS[i - 1]!
      const high = Math.min(BOUNDS[i] ?? this.#max, this.#max)
      return Math.min(this.#max, low + (high - low) * ((rank - seen) / inBucket))
    }
    return this.#max
  }
}

/** Counters and histograms of one executor; the schedulers record into it. */
export class TaskStats {
  /** Tasks accepted (a map chunk is one task). */
  submitted = 0
  succeeded = 0
  failed = 0
  cancelled = 0
  /** Failed because their worker died (also counted in `failed`). */
  crashed = 0
  /** Records the wait of tasks dispatched at `now`: runs of tasks queued at the same moment (a burst) are one record. */
  recordWaits(batch: readonly { queuedAt: number }[], now: number): void {
    let from = batch[0]!.queuedAt
    let n = 0
    for (let i = 0; i < batch.length; i++) {
      const at = batch[i]!.queuedAt
      if (at !== from) {
        this.wait.record(now - from, n)
        from = at
        n = 0
      }
      n++
    }
    if (n > 0) this.wait.record(now - from, n)
  }

  /** Runs again of a task (or chunk item): its worker died, or it threw an error `retryOn` names. */
  retried = 0
  /** Workers started since the executor was created. */
  workersStarted = 0
  /** From submit to a worker, per task. */
  readonly wait = new Histogram()
  /** On the worker, per task (a chunk: per item). */
  readonly run = new Histogram()
}

/** One worker's counts, kept by its scheduler; `report()` gives its WorkerStats and starts a new busy window. */
export class WorkerActivity {
  tasks = 0
  failed = 0
  /** Milliseconds spent running tasks, as the worker measured them. */
  busyMs = 0
  #seenBusyMs = 0
  #seenAt = performance.now()

  /** `most`: the busy share it can reach (1 for a local worker, which runs one task at a time). */
  report(worker: string, most = Infinity): WorkerStats {
    const now = performance.now()
    const window = now - this.#seenAt
    const busy = window > 0 ? Math.min(most, Math.max(0, (this.busyMs - this.#seenBusyMs) / window)) : 0
    this.#seenBusyMs = this.busyMs
    this.#seenAt = now
    return { worker, tasks: this.tasks, failed: this.failed, busy }
  }
}

/**
 * A snapshot of an executor's activity. Counts are of tasks (a map chunk is
 * one task) since the executor was created: `submitted` is always
 * `succeeded + failed + cancelled + pending`.
 */
export interface ExecutorStats {
  /** Workers alive (local: started on demand, up to `maxWorkers`); on the cluster, the workers that ran this executor's tasks. */
  workers: number
  /** Tasks waiting for a worker. */
  queued: number
  /** Tasks handed to workers and not finished. */
  running: number
  /** Futures not settled yet (queued and running). */
  pending: number
  /** 'RUNNING', or the stage of shutting down. */
  state: ExecutorState
  /** Tasks accepted. */
  submitted: number
  /** Tasks that returned a value (a chunk whose items threw still returned). */
  succeeded: number
  /** Tasks that threw, timed out or could not be sent. */
  failed: number
  /** Tasks cancelled (by `cancel()`, a signal, shutdown or terminate). */
  cancelled: number
  /** Tasks failed because their worker died (counted in `failed` too). */
  crashed: number
  /** Runs again of a task, or of a chunk's item: its worker died (`retries`), or it threw an error `retryOn` names. On the cluster, runs again after a crash happen on the worker, unseen here. */
  retried: number
  /** Workers started since the executor was created (cluster: workers seen). */
  workersStarted: number
  /** Milliseconds from submit until a worker got the task. */
  waitTime: HistogramSnapshot
  /** Milliseconds a task ran on its worker, as the worker measured it (a map chunk is one task: its whole run). */
  runTime: HistogramSnapshot
  /** Each worker's tasks, failures, and busy share since the previous `stats()` call. */
  perWorker: WorkerStats[]
}

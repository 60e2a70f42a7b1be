/**
 * The worker budget: how many workers a program runs at once, its nested
 * pools included, so that pools created inside tasks do not multiply.
 *
 * Without it, a pool of n workers whose tasks each create a pool of n
 * workers runs n + n² workers on n CPUs. Python avoids this by forbidding
 * nested pools; joblib by giving inner pools a share of the CPUs. We do the
 * latter:
 *
 *   - `MULTIPROC_MAX_WORKERS` (environment) is the budget of this program.
 *     Unset at the top level: top-level executors get what they ask for.
 *   - Every worker is started with `MULTIPROC_MAX_WORKERS` set to its share:
 *     floor(budget / pool size), at least 1, where the budget of a top-level
 *     program without the variable is `cpuCount()`. A worker waiting for its
 *     nested pool lends its CPU to it, so busy workers stay within the budget.
 *   - Inside a worker, executors are capped at the share (a default-sized
 *     `new Pool()` in a task of a 2-worker pool on 2 CPUs gets 1 worker), and
 *     all executors of the thread together start at most the share of
 *     workers, except that every executor may always have one, so that each
 *     one makes progress.
 *
 * An executor's own `env` option may set `MULTIPROC_MAX_WORKERS` for its
 * workers explicitly; it is then left as given.
 *
 * The counts are per thread (module state is per thread), which is what the
 * shares are computed for: every worker is a thread or a process of its own.
 */
import { cpuCount } from '../cpu_count.js'

export const BUDGET_ENV = 'MULTIPROC_MAX_WORKERS'

function readLimit(): number {
  const raw = process.env[BUDGET_ENV]
  if (raw === undefined || raw.trim() === '') return Infinity
  const n = Number(raw)
  if (Number.isInteger(n) && n >= 1) return n
  process.emitWarning(`Ignoring ${BUDGET_ENV}=${JSON.stringify(raw)}: expected a positive integer`, { type: 'MultiprocWarning', code: 'MP_BAD_BUDGET' })
  return Infinity
}

class WorkerBudget {
  /** Workers this thread may run at once, Infinity when unbounded. Read once, at first use. */
  readonly limit = readLimit()
  #live = 0
  /** cpuCount(), read on first use. */
  #cpus: number | undefined

  /** Workers running now in this thread's executors. */
  get live(): number {
    return this.#live
  }

  /** The most workers an executor asking for `requested` may get. */
  cap(requested: number): number {
    return Math.min(requested, Math.max(1, this.limit))
  }

  /** Takes one worker from the budget; `first` (an executor's first worker) always gets it. */
  tryAcquire(first: boolean): boolean {
    if (!first && this.#live >= this.limit) return false
    this.#live++
    return true
  }

  release(): void {
    this.#live--
  }

  /** The budget a worker of a pool of `poolSize` workers gets for its own nested pools. */
  shareFor(poolSize: number): number {
    // Read once: cpuCount() reads the cgroup files, milliseconds on every worker spawned otherwise.
    const budget = Number.isFinite(this.limit) ? this.limit : (this.#cpus ??= cpuCount())
    return Math.max(1, Math.floor(budget / poolSize))
  }
}

/** This thread's budget. */
export const workerBudget = new WorkerBudget()

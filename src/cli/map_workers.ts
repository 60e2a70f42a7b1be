/**
 * The workers of `multiproc map`, whatever the backend, as the little it
 * needs: an ordered or unordered map over lazily read items, a stop now and
 * a finish.
 *
 * The local backends are their executor class, loaded alone: the CLI starts
 * faster without the whole library's module graph (Pool and the context
 * bring the queues, locks, managers and the cluster client, about 60
 * modules against 20). The executor's map is the engine of Pool.imap, so
 * order, window, cancellation and crash reports are the same. The nats
 * backend goes through its context's Pool, loaded only when asked for.
 */
import type { AnyIterable } from '../futures/executor.js'
import type { ExecutorStats } from '../futures/stats.js'
import type { Task } from '../task_ref.js'
import type { BackendName } from './backend_names.js'

export interface MapOptions {
  chunksize: number | 'auto'
  buffersize?: number
  signal: AbortSignal
}

export interface MapWorkers {
  /** Workers at most. */
  readonly count: number
  /** Tasks each worker runs at once (`--concurrent-tasks`). */
  readonly concurrency: number
  /** Results of `fn` over `items`, in input order or as they finish. */
  map<R>(fn: Task, items: AnyIterable<unknown>, options: MapOptions, ordered: boolean): AsyncIterable<R>
  /**
   * Starts `workers` workers (at most `count`) now, each running `fn(...args)`
   * once (loading the task module), and resolves when they have, whatever
   * the outcome: a failure shows again on the first real task. A task per
   * worker, sent at once, so the executor starts one worker for each. Does
   * nothing on the nats backend (its workers run elsewhere, already started).
   */
  warm(workers: number, fn: Task, args: unknown[]): Promise<void>
  /** Stops the workers now; pending results fail with CancelledError. */
  stop(): Promise<void>
  /** Lets the workers finish and exit. */
  finish(): Promise<void>
  /** What the workers are doing (the progress bar shows p99 task time and busy workers). */
  stats(): ExecutorStats
}

/** `concurrency`: tasks each worker runs at once (local backends; cluster workers are configured where they run). */
export async function startWorkers(backend: BackendName, jobs: number, natsUrl: string | undefined, concurrency = 1): Promise<MapWorkers> {
  if (backend === 'nats') {
    const { contextFor } = await import('./backend.js')
    const pool = new (contextFor(backend, natsUrl).Pool)({ processes: jobs })
    return {
      count: pool.processes,
      concurrency: 1,
      map: (fn, items, options, ordered) => (ordered ? pool.imap(fn, items, options) : pool.imapUnordered(fn, items, options)) as AsyncIterable<never>,
      warm: () => Promise.resolve(),
      stop: () => pool.terminate(),
      stats: () => pool.stats(),
      finish: () => {
        pool.close()
        return pool.join()
      },
    }
  }
  const lanes = { concurrentTasksPerWorker: concurrency }
  const [{ resolveTask }, executor] = await Promise.all([
    import('../task_ref.js'),
    backend === 'thread'
      ? import('../futures/thread_pool_executor.js').then((m) => new m.ThreadPoolExecutor({ maxWorkers: jobs, ...lanes }))
      : backend === 'process'
        ? import('../futures/process_pool_executor.js').then((m) => new m.ProcessPoolExecutor({ maxWorkers: jobs, ...lanes }))
        : import('../futures/inline_executor.js').then((m) => new m.InlineExecutor(lanes)),
  ])
  return {
    count: executor.maxWorkers,
    concurrency: executor.concurrentTasksPerWorker,
    map: (fn, items, options, ordered) => executor.mapArgs(resolveTask(fn), argumentLists(items), { ...options }, ordered) as AsyncIterable<never>,
    warm: async (workers, fn, args) => {
      const n = Math.max(0, Math.min(workers, executor.maxWorkers))
      await Promise.allSettled(Array.from({ length: n }, () => executor.submit(fn, ...args)))
    },
    stop: () => executor.terminateWorkers(),
    stats: () => executor.stats(),
    finish: () => executor.shutdown({ wait: true }),
  }
}

/** Each item as the argument list of one call, read as the executor asks (closing it closes `items`). */
async function* argumentLists(items: AnyIterable<unknown>): AsyncGenerator<unknown[]> {
  for await (const item of items) yield [item]
}

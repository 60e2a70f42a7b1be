/**
 * ThreadPoolExecutor: tasks run in `worker_threads` workers.
 *
 * Unlike Python's ThreadPoolExecutor (threads that share one interpreter
 * lock), each worker is a separate V8 isolate on its own core, so CPU-bound
 * tasks really run in parallel. Arguments and results are copied by
 * structured clone (or moved, with `transfer`).
 */
import { threadBackend } from '../backends/thread/thread_backend.js'
import { PoolExecutor, type PoolExecutorOptions } from './pool_executor.js'

/** Options of `ThreadPoolExecutor`: every `PoolExecutorOptions` key. */
export type ThreadPoolExecutorOptions = PoolExecutorOptions

/**
 * Runs tasks in `worker_threads` workers, each a V8 isolate on its own core,
 * so CPU-bound tasks really run in parallel (unlike Python's ThreadPoolExecutor).
 * Workers start on demand, up to `maxWorkers` (default `cpuCount()`).
 *
 * @example
 * await using executor = new ThreadPoolExecutor()
 * const futures = [1, 2, 3].map((x) => executor.submit(square, x))
 * console.log(await Promise.all(futures)) // [1, 4, 9]
 */
export class ThreadPoolExecutor extends PoolExecutor {
  /**
   * @param options `maxWorkers` (default `cpuCount()`), `initializer`, `initargs`,
   *   `maxTasksPerChild`, `resourceLimits`, `idleTimeout`, `retries`, `maxQueue`, `execArgv`, `env`,
   *   `concurrentTasksPerWorker` (tasks each worker runs at once; default 1)
   * @throws TypeError / RangeError for a bad option
   * @example
   * await using executor = new ThreadPoolExecutor({ maxWorkers: 4 })
   * console.log(await executor.submit(square, 7)) // 49
   */
  constructor(options: ThreadPoolExecutorOptions = {}) {
    super(threadBackend, options, { what: 'ThreadPoolExecutor' })
  }
}

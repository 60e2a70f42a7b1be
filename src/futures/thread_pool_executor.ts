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

export type ThreadPoolExecutorOptions = PoolExecutorOptions

export class ThreadPoolExecutor extends PoolExecutor {
  /**
   * @param options `maxWorkers` (default `cpuCount()`), `initializer`, `initargs`,
   *   `maxTasksPerChild`, `resourceLimits`, `idleTimeout`, `retries`, `execArgv`, `env`
   * @throws TypeError / RangeError for a bad option
   * @example
   * await using executor = new ThreadPoolExecutor({ maxWorkers: 4 })
   * console.log(await executor.submit(square, 7)) // 49
   */
  constructor(options: ThreadPoolExecutorOptions = {}) {
    super(threadBackend, options, { what: 'ThreadPoolExecutor' })
  }
}

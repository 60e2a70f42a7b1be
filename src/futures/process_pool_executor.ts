/**
 * ProcessPoolExecutor: tasks run in child processes (`child_process.fork`).
 *
 * Python's ProcessPoolExecutor without its traps: tasks are referenced by
 * module and export name (nothing to pickle), a worker that dies (even by
 * `kill -9`) fails only the task it was running and is replaced (no
 * BrokenProcessPool), and workers never outlive the program.
 *
 * Choose processes over threads when tasks need real isolation: native
 * addons that are not thread-safe, `process.chdir()` or `process.env`
 * changes, code that may crash the whole runtime, or a separate heap per
 * worker. Threads start faster and answer sooner (a process worker is a
 * whole Node.js runtime; see bench/process_pool.ts). Arguments and results are copied with the V8 serializer:
 * `transfer` lists still detach the caller's buffers but copy them, and
 * SharedArrayBuffers cannot be sent.
 */
import { processBackend } from '../backends/child_process/child_process_backend.js'
import { PoolExecutor, type PoolExecutorOptions } from './pool_executor.js'

/**
 * Options of ProcessPoolExecutor: those of every executor. `resourceLimits`
 * become V8 flags of the worker (`maxOldGenerationSizeMb` →
 * `--max-old-space-size`, `maxYoungGenerationSizeMb` → `--max-semi-space-size`);
 * `stackSizeMb` and `codeRangeSizeMb` do not apply to processes.
 */
export type ProcessPoolExecutorOptions = PoolExecutorOptions

/**
 * Runs tasks in child processes (`child_process.fork`): full isolation and a
 * heap per worker. A worker that dies, even by `kill -9`, fails only the task
 * it was running and is replaced; workers never outlive the program.
 *
 * @example
 * await using executor = new ProcessPoolExecutor({ maxWorkers: 2 })
 * for await (const y of executor.map(square, [1, 2, 3])) console.log(y) // 1 4 9
 */
export class ProcessPoolExecutor extends PoolExecutor {
  /**
   * @param options `maxWorkers` (default `cpuCount()`), `initializer`, `initargs`,
   *   `maxTasksPerChild`, `resourceLimits`, `idleTimeout`, `retries`, `maxQueue`, `execArgv`, `env`,
   *   `concurrentTasksPerWorker` (tasks each worker runs at once; default 1)
   * @throws TypeError / RangeError for a bad option
   * @example
   * await using executor = new ProcessPoolExecutor({ maxWorkers: cpuCount() - 1 })
   * console.log(await executor.submit(square, 7)) // 49
   */
  constructor(options: ProcessPoolExecutorOptions = {}) {
    super(processBackend, options, { what: 'ProcessPoolExecutor' })
  }
}

/**
 * InlineExecutor: tasks run one at a time in the calling thread.
 *
 * Python's "dummy" executor: for debugging (breakpoints and console.log in
 * tasks work as usual) and for machines with a single CPU, where a worker
 * would only add overhead. Arguments and results still go through the
 * same codec as on real workers, so a program that works inline works on
 * threads and processes too.
 *
 * Limits: a task cannot be stopped while it runs. A task that times out or
 * is aborted settles its Future on time only if it is asynchronous (its
 * result is then discarded); a crash (`process.exit`) ends the program.
 *
 * `concurrentTasksPerWorker` N > 1 lets N asynchronous tasks await at once
 * on the calling thread (a synchronous one still runs to its end first).
 */
import { inlineBackend } from '../backends/inline/inline_backend.js'
import { knownKeys, plainObject } from '../internal/validate.js'
import { PoolExecutor, type PoolExecutorOptions } from './pool_executor.js'

/**
 * Options of `InlineExecutor`: the `PoolExecutorOptions` that make sense for
 * one inline worker. `concurrentTasksPerWorker` N lets up to N asynchronous
 * tasks await at once on the calling thread (default 1: one at a time).
 */
export type InlineExecutorOptions = Pick<PoolExecutorOptions, 'initializer' | 'initargs' | 'maxTasksPerChild' | 'retries' | 'retryOn' | 'retryBackoff' | 'maxQueue' | 'concurrentTasksPerWorker'>

/**
 * Runs tasks one at a time in the calling thread, through the same codec as
 * real workers: for debugging and for machines with one CPU. A running task
 * cannot be stopped, and a task that calls `process.exit` ends the program.
 *
 * @example
 * await using executor = cpuCount() > 1 ? new ThreadPoolExecutor() : new InlineExecutor()
 * console.log(await executor.submit(square, 7)) // 49
 */
export class InlineExecutor extends PoolExecutor {
  /**
   * @param options `initializer`, `initargs`, `maxTasksPerChild`, `retries`, `retryOn`, `retryBackoff`, `maxQueue`,
   *   `concurrentTasksPerWorker` (asynchronous tasks awaiting at once; default 1)
   * @example
   * const executor = cpuCount() > 1 ? new ThreadPoolExecutor() : new InlineExecutor()
   */
  constructor(options: InlineExecutorOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('InlineExecutor', opts, ['initializer', 'initargs', 'maxTasksPerChild', 'retries', 'retryOn', 'retryBackoff', 'maxQueue', 'concurrentTasksPerWorker'])
    super(inlineBackend, { ...opts, maxWorkers: 1 }, { what: 'InlineExecutor' })
  }
}

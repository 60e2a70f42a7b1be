/**
 * PoolExecutor: the executor over a local backend, behind
 * ThreadPoolExecutor, ProcessPoolExecutor, InlineExecutor and Pool. It
 * checks the options of local workers and puts the shared submission layer
 * (task_executor.ts) over a LocalScheduler (local_scheduler.ts).
 */
import type { ResourceLimits } from 'node:worker_threads'
import { invalidArgType } from '../errors.js'
import type { Backend } from '../backends/backend.js'
import { knownKeys, plainObject, positiveInteger, timeoutMs } from '../internal/validate.js'
import { cpuCount } from '../cpu_count.js'
import { workerBudget } from '../internal/worker_budget.js'
import { resolveTask, type Task } from '../task_ref.js'
import { encodeShareables } from '../wire/shareable.js'
import { LocalScheduler } from './local_scheduler.js'
import { SHARED_OPTION_KEYS, TaskExecutor, checkArgument, checkSharedOptions } from './task_executor.js'
import type { RetryBackoff, RetryOn } from './retry_policy.js'

/** Options shared by every local executor. */
export interface PoolExecutorOptions {
  /** Workers at most. Default `cpuCount()`. Workers start on demand. */
  maxWorkers?: number
  /** An exported function (or `task()` reference) run once in every worker before its first task. */
  initializer?: Task
  /** Arguments for `initializer`. */
  initargs?: unknown[]
  /** Replace a worker after it ran this many tasks (a map chunk counts as one). Default: never. */
  maxTasksPerChild?: number
  /** Memory limits of each worker (thread backend), as `worker_threads` takes them. */
  resourceLimits?: ResourceLimits
  /** Stop a worker after it was idle this many milliseconds. Default: keep it (idle workers never keep the process alive). */
  idleTimeout?: number
  /** How many times a task whose worker crashed (or that threw an error `retryOn` names) is run again before it fails. Default 0. */
  retries?: number
  /**
   * Errors thrown by a task that run it again, within \`retries\`: error
   * classes, names or codes, or a function \`(error, attempt) => boolean\`.
   * Default: none. Map chunks run their failed items again.
   */
  retryOn?: RetryOn
  /** The waits before runs again under \`retryOn\`. Default \`{ initial: 100, factor: 2, max: 10000, jitter: true }\`. */
  retryBackoff?: RetryBackoff
  /**
   * Tasks waiting for a worker at most: `submit` beyond it throws `Full`, and
   * `await executor.waitForRoom()` waits for room (backpressure). `map` and Pool
   * calls are never refused: they bound their own window of chunks. Default: no bound.
   */
  maxQueue?: number
  /** Node options for workers. Default: the caller's `execArgv` without per-process ones (inspector, profiler). */
  execArgv?: string[]
  /** Environment of the workers. Default: a copy of `process.env`. */
  env?: NodeJS.ProcessEnv
  /**
   * Tasks each worker runs at once (piscina's option of the same name).
   * Default 1: a worker runs one task at a time. With N > 1 a worker starts
   * its next task while the ones before it await (I/O, timers), up to N at
   * once, and the items of a `map` chunk run N at once too; results still
   * come back per task, and `map` keeps input order. Only asynchronous tasks
   * gain: a synchronous task blocks its worker's thread, and every task in
   * it, until it returns. A task that times out or whose signal aborts
   * still stops its worker (threads, processes): the other tasks it ran run
   * again on another worker without using a retry, so they may run twice.
   * A crash fails (or, under `retries`, runs again) every task the worker
   * had started. Inline: tasks await concurrently on the calling thread,
   * and a stopped task runs on until it ends (its result is dropped).
   */
  concurrentTasksPerWorker?: number
}

const OPTION_KEYS = [
  'maxWorkers',
  'initializer',
  'initargs',
  'maxTasksPerChild',
  'resourceLimits',
  'idleTimeout',
  'execArgv',
  'env',
  'concurrentTasksPerWorker',
  ...SHARED_OPTION_KEYS,
] as const

/**
 * The executor over a local backend. Use ThreadPoolExecutor,
 * ProcessPoolExecutor or InlineExecutor; this class holds what they share.
 */
export class PoolExecutor extends TaskExecutor {
  constructor(backend: Backend, options: PoolExecutorOptions = {}, defaults: { maxWorkers?: number; what?: string } = {}) {
    const what = defaults.what ?? 'the executor'
    const opts = plainObject('options', options)
    knownKeys(what, opts, OPTION_KEYS)
    const requested = opts.maxWorkers === undefined ? (defaults.maxWorkers ?? cpuCount()) : positiveInteger('maxWorkers', opts.maxWorkers)
    const initializer = opts.initializer === undefined || opts.initializer === null ? null : resolveTask(opts.initializer, 'initializer')
    if (opts.initargs !== undefined && !Array.isArray(opts.initargs)) {
      throw invalidArgType(`Expected \`initargs\` to be an array, got ${typeof opts.initargs}`)
    }
    const initargs = (opts.initargs as unknown[] | undefined) ?? []
    const found = { shareables: 0 }
    const capabilities = backend.capabilities
    initargs.forEach((arg, i) => checkArgument(arg, i, 'initargs', capabilities, undefined, undefined, found))
    const settings = checkSharedOptions(opts)
    if (opts.execArgv !== undefined && (!Array.isArray(opts.execArgv) || !opts.execArgv.every((a) => typeof a === 'string'))) {
      throw invalidArgType('Expected `execArgv` to be an array of strings')
    }
    const scheduler = new LocalScheduler(backend, {
      // Inside a worker, nested executors get the worker's share (internal/worker_budget.ts).
      maxWorkers: capabilities.isolated ? workerBudget.cap(requested) : requested,
      initializer,
      initargs: found.shareables > 0 ? (encodeShareables(initargs, { ...capabilities, backend: backend.name }) as unknown[]) : initargs,
      initargsShared: found.shareables > 0,
      maxTasksPerChild: opts.maxTasksPerChild === undefined ? Infinity : positiveInteger('maxTasksPerChild', opts.maxTasksPerChild),
      resourceLimits: opts.resourceLimits as ResourceLimits | undefined,
      idleTimeout: opts.idleTimeout === undefined ? Infinity : timeoutMs('idleTimeout', opts.idleTimeout),
      execArgv: opts.execArgv as string[] | undefined,
      env: opts.env as NodeJS.ProcessEnv | undefined,
      concurrency: opts.concurrentTasksPerWorker === undefined ? 1 : positiveInteger('concurrentTasksPerWorker', opts.concurrentTasksPerWorker),
    })
    super(scheduler, settings, what)
  }
}

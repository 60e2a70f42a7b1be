/**
 * Pool: Python's `multiprocessing.Pool`, on any backend.
 *
 *   new Pool() ─▶ apply / applyAsync / map / mapAsync / starmap / starmapAsync / imap / imapUnordered
 *        │                    └─ each a Future (apply) or chunk Futures (map) of one executor
 *        ├─ close()      RUN ─▶ CLOSE: no new work; workers exit once the work is done
 *        ├─ terminate()  any ─▶ TERMINATE: workers stopped now; pending work fails with CancelledError
 *        └─ join()       CLOSE|TERMINATE: waits for the work and the workers
 *
 * What differs from Python, on purpose:
 *  - A worker that dies fails only its own task (WorkerCrashedError), or
 *    runs it again under `retries`; Python's Pool hangs (cpython#96062).
 *  - `imap`/`imapUnordered` read their input lazily, a bounded window
 *    ahead, while the pool runs; Python's read it all at once. After
 *    close() they read the rest at once too (see `join`).
 *  - `terminate()` settles every pending result with CancelledError;
 *    Python's leave them pending forever.
 *  - `await using pool = new Pool()` closes and joins (finishes the work);
 *    Python's `with Pool()` terminates it.
 *
 * Pool sits on its context's executor (a TaskExecutor, local or cluster):
 * the scheduler, crash recovery and batching are the executor's; Pool adds
 * Python's API and its state machine. It is one file of about 600 lines
 * because it is that API: eight calling forms, each with its docs, read
 * best side by side.
 */
import { AsyncResult, kSettle } from './async_result.js'
import { PoolIteration } from './pool_iteration.js'
import { CancelledError, InvalidStateError, invalidArgType } from './errors.js'
import type { Context } from './context.js'
import { contextFor, type StartMethod } from './start_method.js'
import type { TaskExecutor } from './futures/task_executor.js'
import type { ExecutorStats } from './futures/stats.js'
import { zipArgs, type AnyIterable, type ChunkResult } from './futures/map_engine.js'
import { kOutcome, type Future } from './futures/future.js'
import { joinArrays } from './internal/join_arrays.js'
import { packNumbers } from './internal/pack_numbers.js'
import { func, knownKeys, plainObject, positiveInteger, typeFail } from './internal/validate.js'
import { resolveTask, type ResolvedTask, type Task, type TaskFunction } from './task_ref.js'
import type { RetryBackoff, RetryOn } from './futures/retry_policy.js'

/** Options of `new Pool()`. */
export interface PoolOptions {
  /** Workers. Default `cpuCount()` (Python: `os.cpu_count()`, which ignores container quotas). */
  processes?: number
  /** An exported function (or `task()` reference) run once in every worker before its first task. */
  initializer?: Task
  /** Arguments for `initializer`. */
  initargs?: unknown[]
  /** Replace a worker after it ran this many tasks (a chunk counts as one). Default: never. */
  maxTasksPerChild?: number
  /** The backend: 'thread' (default), 'process', 'inline', or a context from `getContext()`. */
  context?: StartMethod | Context
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
   * Tasks each worker runs at once, for asynchronous (I/O-bound) tasks: a
   * worker starts its next task, or the next item of a map chunk, while the
   * ones before it await. Default 1. Local contexts only (a cluster's
   * workers are configured where they run). See `PoolExecutorOptions`.
   */
  concurrentTasksPerWorker?: number
}

/** Options of `applyAsync`. */
export interface ApplyAsyncOptions<T> {
  /** Called with the result when the call succeeds, before `get()` returns it. */
  callback?: (value: T) => void
  /** Called with the error when the call fails. */
  errorCallback?: (error: unknown) => void
  /** Hears the values the task gives `progress()` (`multiproc/task`) while it runs (see `submitWith`). */
  onProgress?: (value: unknown) => void
}

/** Options of `map` and `starmap`. */
export interface PoolMapOptions {
  /** Items per task. Default: Python's `ceil(n / (4 × processes))` for n items. */
  chunksize?: number
  /** Hears the values the items' tasks give `progress()`, with the item's index in the input. */
  onProgress?: (value: unknown, index: number) => void
}

/** Options of `mapAsync` and `starmapAsync`. */
export interface PoolMapAsyncOptions<T> extends PoolMapOptions, Omit<ApplyAsyncOptions<T>, 'onProgress'> {}

/** Options of `imap` and `imapUnordered`. */
export interface PoolImapOptions {
  /**
   * Items per task: a number, or 'auto' (default) to size chunks from measured
   * item times (tiny items batched, slow ones one by one). Python's default is 1.
   */
  chunksize?: number | 'auto'
  /** Chunks submitted ahead of the consumer at most. Default: 4 × processes, at least 16. */
  buffersize?: number
  /** Aborting ends the iteration with CancelledError and cancels what is queued. */
  signal?: AbortSignal
  /** Hears the values the items' tasks give `progress()`, with the item's index in the input. */
  onProgress?: (value: unknown, index: number) => void
}

type PoolState = 'RUN' | 'CLOSE' | 'TERMINATE'

/** @deprecated The old name of `TaskExecutor`, the executor of any backend (it is an executor, not a backend). */
export type PoolBackend = TaskExecutor

const POOL_KEYS = ['processes', 'initializer', 'initargs', 'maxTasksPerChild', 'context', 'retries', 'retryOn', 'retryBackoff', 'concurrentTasksPerWorker'] as const

/**
 * Python's default chunksize for `map`: `ceil(n / (4 × workers))`, at least 1.
 * Four chunks per worker balance the load while keeping messages few.
 * @returns the number of items per chunk
 * @example
 * defaultChunksize(1000, 4) // 63
 */
export function defaultChunksize(items: number, workers: number): number {
  return Math.max(1, Math.ceil(items / (4 * workers)))
}

/**
 * Work that reads its input after the call returned (imap, map of an async
 * iterable): it keeps the executor open after close() until all of it is
 * submitted. `drain` makes it read the rest of its input now.
 */
interface Lease {
  drain(): void
}

/**
 * Python's `multiprocessing.Pool` on any backend. Blocking calls (`apply`,
 * `map`, `starmap`) return Promises; the `Async` variants return an
 * `AsyncResult` at once; `imap` and `imapUnordered` are async iterators.
 * `await using pool = new Pool()` closes and joins the pool at the end of the
 * block: submitted work finishes (Python's `with` terminates it).
 *
 * @example
 * await using pool = new Pool() // cpuCount() worker threads
 * console.log(await pool.apply(add, [2, 3]))          // 5
 * console.log(await pool.map(square, [1, 2, 3]))      // [1, 4, 9]
 * for await (const y of pool.imapUnordered(square, [4, 5])) console.log(y) // 16 25, as they finish
 */
export class Pool {
  readonly #executor: TaskExecutor
  readonly #context: Context
  #state: PoolState = 'RUN'
  readonly #leases = new Set<Lease>()
  #leaseWaiters: (() => void)[] = []
  #terminated: Promise<void> | null = null

  /**
   * A pool of workers, started on demand.
   *
   * @param options `processes` (default `cpuCount()`), `initializer`, `initargs`,
   *   `maxTasksPerChild`, `context` ('thread' by default), `retries`, `retryOn`, `retryBackoff`,
   *   `concurrentTasksPerWorker` (tasks each worker runs at once, for asynchronous tasks; default 1)
   * @throws TypeError / RangeError for a bad option
   * @example
   * await using pool = new Pool({ processes: 4, context: 'process' })
   * console.log(await pool.map(square, [1, 2, 3])) // [1, 4, 9]
   */
  constructor(options: PoolOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('Pool', opts, POOL_KEYS)
    this.#context = resolveContext(opts.context)
    const processes = opts.processes === undefined || opts.processes === null ? undefined : positiveInteger('processes', opts.processes)
    const executorOptions: Record<string, unknown> = { maxWorkers: processes }
    for (const key of ['initializer', 'initargs', 'maxTasksPerChild', 'retries', 'retryOn', 'retryBackoff', 'concurrentTasksPerWorker'] as const) executorOptions[key] = opts[key]
    for (const key of Object.keys(executorOptions)) if (executorOptions[key] === undefined) delete executorOptions[key]
    this.#executor = this.#context.createExecutor(executorOptions)
  }

  /** How many workers the pool runs at most. */
  get processes(): number {
    return this.#executor.maxWorkers
  }

  /** The context (backend) of the pool. */
  get context(): Context {
    return this.#context
  }

  /** 'RUN', 'CLOSE' or 'TERMINATE'. */
  get state(): PoolState {
    return this.#state
  }

  /**
   * A snapshot of the pool's activity: its executor's `stats()` (tasks by
   * outcome, wait and run time histograms, each worker's busy share). A
   * `map` chunk counts as one task.
   *
   * @example
   * setInterval(() => console.log(pool.stats().perWorker), 1000).unref()
   */
  stats(): ExecutorStats {
    return this.#executor.stats()
  }

  /**
   * Calls `fn(...args)` in a worker and resolves to its result (Python's
   * `apply`, which blocks; here it is a Promise).
   *
   * @throws TypeError if `fn` cannot be referenced, SerializationError if an
   *   argument cannot be sent, InvalidStateError once the pool is closed
   * @example
   * const y = await pool.apply(add, [2, 3]) // 5
   */
  apply<F extends TaskFunction>(fn: Task<F>, args?: Parameters<F>): Promise<Awaited<ReturnType<F>>> {
    return this.applyAsync(fn, args).get()
  }

  /**
   * Calls `fn(...args)` in a worker and returns an AsyncResult at once.
   * `callback` gets the result, `errorCallback` the error.
   *
   * @throws as `apply`
   * @example
   * const r = pool.applyAsync(square, [7], { callback: (y) => console.log(y) })
   * console.log(await r.get({ timeout: 1000 })) // 49
   */
  applyAsync<F extends TaskFunction>(fn: Task<F>, args?: Parameters<F>, options: ApplyAsyncOptions<Awaited<ReturnType<F>>> = {}): AsyncResult<Awaited<ReturnType<F>>> {
    this.#checkRunning()
    const list = args === undefined ? [] : args
    if (!Array.isArray(list)) typeFail('args', 'an array of arguments', list)
    const { callback, errorCallback, onProgress } = callbacks(options, 'applyAsync()')
    const future =
      onProgress === undefined ? this.#executor.submit(fn, ...(list as Parameters<F>)) : this.#executor.submitWith({ onProgress: onProgress as (value: unknown) => void }, fn, ...(list as Parameters<F>))
    const result = new AsyncResult<Awaited<ReturnType<F>>>(callback, errorCallback)
    future.then(
      (value) => result[kSettle](true, value),
      (error: unknown) => result[kSettle](false, error),
    )
    return result
  }

  /**
   * `fn(item)` for every item, in order (Python's `map`, which blocks; here a
   * Promise of the array). The input is read at once, as in Python, and cut
   * into chunks of `chunksize` items (default `ceil(n / (4 × processes))`).
   * Resolves when all items are done; if some failed, rejects with the error
   * of the first failing item in input order.
   *
   * @throws as `apply`; TypeError if `iterable` is not iterable. An error the
   *   input throws while it is read rejects the Promise (and settles the
   *   AsyncResult of `mapAsync`), as for an async input.
   * @example
   * const squares = await pool.map(square, [1, 2, 3]) // [1, 4, 9]
   */
  map<F extends TaskFunction>(fn: Task<F>, iterable: AnyIterable<Parameters<F>[0]>, options: PoolMapOptions = {}): Promise<Awaited<ReturnType<F>>[]> {
    return this.#mapAsync(fn, iterable, false, options, 'map()').get()
  }

  /**
   * `map` returning an AsyncResult at once, with optional `callback` /
   * `errorCallback` called once all items are done.
   *
   * @example
   * const r = pool.mapAsync(square, [1, 2, 3], { callback: (ys) => console.log(ys) })
   */
  mapAsync<F extends TaskFunction>(
    fn: Task<F>,
    iterable: AnyIterable<Parameters<F>[0]>,
    options: PoolMapAsyncOptions<Awaited<ReturnType<F>>[]> = {},
  ): AsyncResult<Awaited<ReturnType<F>>[]> {
    return this.#mapAsync(fn, iterable, false, options, 'mapAsync()')
  }

  /**
   * Like `map`, but each item is an array of arguments: `fn(...item)`.
   *
   * @example
   * const sums = await pool.starmap(add, [[1, 2], [3, 4]]) // [3, 7]
   */
  starmap<F extends TaskFunction>(fn: Task<F>, iterable: AnyIterable<Parameters<F>>, options: PoolMapOptions = {}): Promise<Awaited<ReturnType<F>>[]> {
    return this.#mapAsync(fn, iterable, true, options, 'starmap()').get()
  }

  /** `starmap` returning an AsyncResult at once. */
  starmapAsync<F extends TaskFunction>(
    fn: Task<F>,
    iterable: AnyIterable<Parameters<F>>,
    options: PoolMapAsyncOptions<Awaited<ReturnType<F>>[]> = {},
  ): AsyncResult<Awaited<ReturnType<F>>[]> {
    return this.#mapAsync(fn, iterable, true, options, 'starmapAsync()')
  }

  /**
   * `fn(item)` for every item, as an async iterator in input order. Reads the
   * input lazily, at most `buffersize` chunks ahead (an infinite generator
   * works; Python's imap reads its whole input at once). The first error is
   * thrown at its position.
   *
   * @throws as `apply`; TypeError if `iterable` is not iterable
   * @example
   * for await (const line of pool.imap(parse, readLines(file), { chunksize: 64 })) out.write(line)
   */
  imap<F extends TaskFunction>(fn: Task<F>, iterable: AnyIterable<Parameters<F>[0]>, options: PoolImapOptions = {}): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    return this.#imap(fn, iterable, options, true) as AsyncIterableIterator<Awaited<ReturnType<F>>>
  }

  /**
   * Like `imap`, but yields results as they complete (a chunk at a time).
   *
   * @example
   * for await (const y of pool.imapUnordered(score, items)) progress.tick()
   */
  imapUnordered<F extends TaskFunction>(
    fn: Task<F>,
    iterable: AnyIterable<Parameters<F>[0]>,
    options: PoolImapOptions = {},
  ): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    return this.#imap(fn, iterable, options, false) as AsyncIterableIterator<Awaited<ReturnType<F>>>
  }

  /**
   * Accepts no more work; the workers exit once the work asked for is done.
   * imap iterations that have not ended read the rest of their input now
   * (see `join`). Calling it again, or after `terminate()`, does nothing.
   */
  close(): void {
    if (this.#state !== 'RUN') return
    this.#state = 'CLOSE'
    // What was asked for is done, as in Python: open imap iterations read the rest of their input now.
    for (const lease of [...this.#leases]) lease.drain()
    this.#maybeShutdown()
  }

  /**
   * Stops the workers now, whatever they are doing: every pending result
   * fails with CancelledError (Python's stay pending forever), and imap
   * iterations end with it. Resolves once every worker has exited; process
   * workers get SIGTERM, then SIGKILL after a second, so it always returns.
   *
   * @example
   * process.once('SIGINT', () => void pool.terminate())
   */
  terminate(): Promise<void> {
    if (this.#terminated !== null) return this.#terminated
    this.#state = 'TERMINATE'
    this.#leases.clear()
    this.#wakeLeaseWaiters()
    this.#terminated = this.#executor.terminateWorkers()
    return this.#terminated
  }

  /**
   * Waits for the workers to exit: after `close()`, once all submitted work
   * is done; after `terminate()`, once they are stopped.
   *
   * `imap` reads its input lazily while the pool runs; close() makes the
   * iterations that have not ended read and run the rest of their input
   * (their results wait for the consumer), as Python's imap does from the
   * start. join() waits for that work too, never for a consumer. An
   * infinite input then never ends: stop it with its `signal`, its
   * `return()`, or `terminate()`.
   *
   * @throws InvalidStateError (synchronously) if the pool is still running
   *   (Python: ValueError "Pool is still running")
   * @example
   * pool.close()
   * await pool.join()
   */
  join(): Promise<void> {
    if (this.#state === 'RUN') throw new InvalidStateError('Pool is still running: call close() or terminate() before join()')
    return this.#join()
  }

  /**
   * `await using pool = new Pool()`: close() and join() at the end of the
   * block, so the submitted work finishes. Python's `with Pool()` calls
   * terminate() instead, which kills work still running; call
   * `pool.terminate()` yourself for that.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.#join()
  }

  /** `'Pool(thread, RUN)'`: the context and the state, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return `Pool(${this.#context.name}, ${this.#state})`
  }

  // ── internals ──

  async #join(): Promise<void> {
    if (this.#state === 'TERMINATE') {
      await this.#terminated
      return
    }
    while (this.#leases.size > 0) await new Promise<void>((resolve) => this.#leaseWaiters.push(resolve))
    // terminate() may have come while we waited.
    if ((this.#state as PoolState) === 'TERMINATE') await this.#terminated
    else await this.#executor.shutdown({ wait: true })
  }

  #checkRunning(): void {
    if (this.#state !== 'RUN') throw new InvalidStateError(`Pool not running (it was ${this.#state === 'CLOSE' ? 'closed' : 'terminated'})`)
  }

  #release(lease: Lease): void {
    if (!this.#leases.delete(lease)) return
    if (this.#leases.size === 0) {
      this.#wakeLeaseWaiters()
      this.#maybeShutdown()
    }
  }

  #wakeLeaseWaiters(): void {
    const waiters = this.#leaseWaiters
    this.#leaseWaiters = []
    for (const w of waiters) w()
  }

  #maybeShutdown(): void {
    if (this.#state === 'CLOSE' && this.#leases.size === 0) void this.#executor.shutdown({ wait: false })
  }

  #mapAsync(fn: Task, iterable: unknown, star: boolean, options: PoolMapAsyncOptions<any>, what: string): AsyncResult<any> {
    this.#checkRunning()
    const task = resolveTask(fn)
    const opts = plainObject('options', options)
    knownKeys(what, opts, what.endsWith('Async()') ? ['chunksize', 'callback', 'errorCallback', 'onProgress'] : ['chunksize', 'onProgress'])
    const chunksize = opts.chunksize === undefined ? undefined : positiveInteger('chunksize', opts.chunksize)
    const { callback, errorCallback, onProgress } = callbacks(opts, what)
    const result = new AsyncResult<unknown[]>(callback, errorCallback)
    const callerStack = new Error().stack
    if (isSyncIterable(iterable)) {
      // Read at once, as Python's map does (it needs the length for the chunksize).
      // An input that throws while read settles the result, as an async input does:
      // map() rejects rather than throwing from a Promise-returning call.
      let items: unknown[]
      try {
        // A plain array is read as it is: the chunks are sliced from it before this call returns.
        items = Array.isArray(iterable) && iterable[Symbol.iterator] === arrayValues ? iterable : Array.from(iterable)
      } catch (error) {
        result[kSettle](false, error)
        return result
      }
      this.#submitAll(task, items, star, chunksize, result, callerStack, onProgress)
      return result
    }
    if (!isAsyncIterable(iterable)) typeFail('iterable', 'an iterable or async iterable', iterable)
    const lease: Lease = { drain() {} } // already reading everything
    this.#leases.add(lease)
    void (async () => {
      const items: unknown[] = []
      for await (const item of iterable) items.push(item)
      return items
    })().then(
      (items) => {
        try {
          if (this.#state === 'TERMINATE') result[kSettle](false, new CancelledError(`${what} was cancelled: the pool was terminated`))
          else this.#submitAll(task, items, star, chunksize, result, callerStack, onProgress)
        } catch (error) {
          result[kSettle](false, error)
        }
        this.#release(lease)
      },
      (error: unknown) => {
        result[kSettle](false, error)
        this.#release(lease)
      },
    )
    return result
  }

  /** Submits every chunk; settles `result` once all are done, with the first error in input order if any. */
  #submitAll(
    task: ResolvedTask,
    items: unknown[],
    star: boolean,
    chunksize: number | undefined,
    result: AsyncResult<unknown[]>,
    callerStack: string | undefined,
    onProgress: ((value: unknown, index: number) => void) | undefined,
  ): void {
    // map sends the items themselves (one flat array per chunk); starmap an argument list per item.
    let argsList: unknown[] = items
    if (star) {
      argsList = []
      for (let i = 0; i < items.length; i++) {
        const item = items[i]
        if (Array.isArray(item)) argsList.push(item)
        else if (isSyncIterable(item)) argsList.push(Array.from(item))
        else typeFail(`iterable[${i}]`, 'an array of arguments (starmap calls fn(...item))', item)
      }
    }
    if (argsList.length === 0) {
      result[kSettle](true, [])
      return
    }
    const size = chunksize ?? defaultChunksize(argsList.length, this.processes)
    const chunks: Future<ChunkResult>[] = []
    // Numbers are packed for local workers in isolates of their own, which clone them (not inline,
    // not the cluster's own wire); after one chunk that is not all numbers, the rest go as they are.
    const { isolated, sameMachine } = this.#executor.capabilities
    let pack = !star && isolated && sameMachine
    try {
      for (let i = 0; i < argsList.length; i += size) {
        const end = Math.min(i + size, argsList.length)
        const packed = pack ? packNumbers(argsList, i, end) : null
        if (packed === null) pack = false
        const slice = packed !== null ? (packed as unknown as unknown[]) : argsList.slice(i, end)
        const base = i
        const heard = onProgress === undefined ? undefined : (value: unknown, item: number): void => onProgress(value, base + item)
        chunks.push(star ? this.#executor.submitChunk(task, slice as unknown[][], undefined, heard) : this.#executor.submitItems(task, slice, heard))
      }
    } catch (error) {
      for (const chunk of chunks) chunk.cancel()
      throw error
    }
    let left = chunks.length
    const onDone = (): void => {
      if (--left > 0) return
      // All chunks are done: the outcome is the first failure in input order, or all values.
      const parts: unknown[][] = []
      for (const chunk of chunks) {
        if (chunk.cancelled()) {
          result[kSettle](false, new CancelledError('The map was cancelled before it finished: its pool was terminated'))
          return
        }
        const { failed, value, error } = chunk[kOutcome]()
        if (failed) {
          result[kSettle](false, error)
          return
        }
        const { errors, values: chunkValues } = value!
        if (errors !== undefined && errors.size > 0) {
          result[kSettle](false, withCallerFrames(errors.get(Math.min(...errors.keys())), callerStack))
          return
        }
        parts.push(chunkValues)
      }
      // One concat: a push per value costs several times as much on a million values.
      result[kSettle](true, joinArrays(parts))
    }
    for (const chunk of chunks) chunk.addDoneCallback(onDone)
  }

  #imap(fn: Task, iterable: unknown, options: PoolImapOptions, ordered: boolean): AsyncIterableIterator<unknown> {
    this.#checkRunning()
    const task = resolveTask(fn)
    if (!isSyncIterable(iterable) && !isAsyncIterable(iterable)) typeFail('iterable', 'an iterable or async iterable', iterable)
    const opts = plainObject('options', options)
    knownKeys(ordered ? 'imap()' : 'imapUnordered()', opts, ['chunksize', 'buffersize', 'signal', 'onProgress'])
    // Validates the options now; reads nothing until the first next().
    const inner = this.#executor.mapArgs(task, zipArgs([iterable as AnyIterable<unknown>]), opts, ordered)
    const iteration: PoolIteration = new PoolIteration(
      inner,
      () => this.#release(iteration),
      () => this.#state === 'TERMINATE',
    )
    this.#leases.add(iteration)
    return iteration
  }
}

function resolveContext(value: unknown): Context {
  const context = contextFor(value)
  if (context !== undefined) return context
  throw invalidArgType(`Expected \`context\` to be 'thread', 'process', 'inline' or a context from getContext(), got ${typeof value}`)
}

interface Callbacks {
  callback: ((value: any) => void) | undefined
  errorCallback: ((error: unknown) => void) | undefined
  onProgress: ((value: unknown, index: number) => void) | undefined
}

function callbacks(options: object, what: string): Callbacks {
  const opts = plainObject('options', options)
  if (what === 'applyAsync()') knownKeys(what, opts, ['callback', 'errorCallback', 'onProgress'])
  return {
    callback: opts.callback === undefined ? undefined : (func('callback', opts.callback) as (value: any) => void),
    errorCallback: opts.errorCallback === undefined ? undefined : (func('errorCallback', opts.errorCallback) as (error: unknown) => void),
    onProgress: opts.onProgress === undefined ? undefined : (func('onProgress', opts.onProgress) as (value: unknown, index: number) => void),
  }
}

const arrayValues = Array.prototype[Symbol.iterator]

function isSyncIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'string') && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function'
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
}

/** Appends the frames of the map call to a task's error, so it shows where the map was called. */
function withCallerFrames(error: unknown, stack: string | undefined): unknown {
  if (!(error instanceof Error) || stack === undefined || typeof error.stack !== 'string') return error
  const frames = stack
    .split('\n')
    .filter((l) => l.trimStart().startsWith('at '))
    .join('\n')
  if (frames) Object.defineProperty(error, 'stack', { value: `${error.stack}\n${frames}`, writable: true, configurable: true })
  return error
}

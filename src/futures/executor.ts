/**
 * Executor: the contract every executor fulfils (Python's `concurrent.futures.Executor`).
 *
 * Subclasses implement `submitWith`, `shutdown` and the chunk primitive;
 * `submit` and `map` are written once here. `map` returns an async
 * iterator in input order (Python's `Executor.map` returns an iterator)
 * that reads its inputs lazily through a bounded window, so an infinite
 * generator works, and that sizes its chunks from measured task times
 * unless told otherwise.
 */
import type { Transferable } from '../wire/codec.js'
import { CancelledError, TimeoutError, invalidArgType } from '../errors.js'
import { Deque } from '../internal/deque.js'
import { abortSignal, knownKeys, optionalTimeout, plainObject, positiveInteger, rangeFail, typeFail } from '../internal/validate.js'
import { resolveTask, type ResolvedTask, type Task, type TaskFunction } from '../task_ref.js'
import { Future, kRemoveDoneCallback } from './future.js'

/** Per-task options for `submitWith`. */
export interface SubmitOptions {
  /**
   * Milliseconds from submission after which the task fails with TimeoutError.
   * A queued task is dropped; a running one is stopped for real (its worker is
   * terminated and replaced). Default: no limit.
   */
  timeout?: number
  /** Aborting cancels the task: dropped if queued, stopped (worker replaced) if running. */
  signal?: AbortSignal
  /** ArrayBuffers / MessagePorts among the arguments to move instead of copy. */
  transfer?: readonly Transferable[]
  /** How many times to run the task again if its worker crashes. Default: the executor's `retries` (0). */
  retries?: number
}

/** Options of `map`. */
export interface MapOptions {
  /**
   * Milliseconds from the call to `map` after which iteration throws
   * TimeoutError (as in Python); tasks still queued are cancelled. Default: no limit.
   */
  timeout?: number
  /**
   * Items per task sent to a worker. `'auto'` (default) starts at 1 and sizes
   * chunks from measured item times so that each chunk runs about a millisecond:
   * tiny items are batched, slow ones go one by one. A number fixes it.
   */
  chunksize?: number | 'auto'
  /** How many chunks may be submitted ahead of the consumer. Default: 4 × workers, at least 16. */
  buffersize?: number
  /** Aborting stops the iteration with CancelledError and cancels what is queued. */
  signal?: AbortSignal
}

/** Options of `shutdown`. */
export interface ShutdownOptions {
  /** Wait for queued and running tasks to finish and for the workers to exit. Default true. */
  wait?: boolean
  /** Cancel the tasks that have not started yet. Default false. */
  cancelFutures?: boolean
}

/** The outcome of a chunk of calls: a value per item, errors where items threw. */
export interface ChunkResult {
  values: unknown[]
  errors: Map<number, unknown> | undefined
  /** Milliseconds the worker spent on the chunk. */
  ms: number
}

/** Anything `map` reads from. */
export type AnyIterable<T> = Iterable<T> | AsyncIterable<T>

const MAP_KEYS = ['timeout', 'chunksize', 'buffersize', 'signal'] as const
const AUTO_CHUNK_TARGET_MS = 1
const AUTO_CHUNK_MAX = 4096

function isIterable(value: unknown): value is AnyIterable<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'string') &&
    (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  )
}

/** Splits `map`'s rest arguments into iterables and a trailing options object. */
export function splitMapArgs(rest: unknown[]): { iterables: AnyIterable<unknown>[]; options: Record<string, unknown> } {
  let options: Record<string, unknown> = {}
  let iterables = rest
  const last = rest[rest.length - 1]
  if (rest.length > 0 && last !== null && typeof last === 'object' && !isIterable(last)) {
    options = plainObject('options', last)
    iterables = rest.slice(0, -1)
  }
  if (iterables.length === 0) throw invalidArgType('Expected at least one iterable of arguments after the task, got none')
  iterables.forEach((it, i) => {
    if (!isIterable(it)) typeFail(`iterables[${i}]`, 'an iterable or async iterable', it)
  })
  return { iterables: iterables as AnyIterable<unknown>[], options }
}

/**
 * Zips iterables into argument tuples, stopping at the shortest (as Python's map).
 * Reads strictly on demand. Returns a sync iterator when all inputs are sync.
 */
export function zipArgs(iterables: AnyIterable<unknown>[]): Iterator<unknown[]> | AsyncIterator<unknown[]> {
  const allSync = iterables.every((it) => typeof (it as Iterable<unknown>)[Symbol.iterator] === 'function')
  if (allSync) {
    const its = iterables.map((it) => (it as Iterable<unknown>)[Symbol.iterator]())
    if (its.length === 1) {
      const it = its[0]!
      return {
        next(): IteratorResult<unknown[]> {
          const r = it.next()
          return r.done ? { done: true, value: undefined } : { done: false, value: [r.value] }
        },
        return(): IteratorResult<unknown[]> {
          it.return?.()
          return { done: true, value: undefined }
        },
      }
    }
    return {
      next(): IteratorResult<unknown[]> {
        const tuple: unknown[] = []
        for (const it of its) {
          const r = it.next()
          if (r.done) {
            for (const other of its) if (other !== it) other.return?.()
            return { done: true, value: undefined }
          }
          tuple.push(r.value)
        }
        return { done: false, value: tuple }
      },
      return(): IteratorResult<unknown[]> {
        for (const it of its) it.return?.()
        return { done: true, value: undefined }
      },
    }
  }
  const its = iterables.map((it) =>
    typeof (it as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
      ? (it as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (it as Iterable<unknown>)[Symbol.iterator](),
  )
  return {
    async next(): Promise<IteratorResult<unknown[]>> {
      const tuple: unknown[] = []
      for (const it of its) {
        const r = await it.next()
        if (r.done) {
          await Promise.all(its.filter((o) => o !== it).map((o) => o.return?.()))
          return { done: true, value: undefined }
        }
        tuple.push(r.value)
      }
      return { done: false, value: tuple }
    },
    async return(): Promise<IteratorResult<unknown[]>> {
      await Promise.all(its.map((it) => it.return?.()))
      return { done: true, value: undefined }
    },
  }
}

/** Waits for a Future without creating a promise on the Future itself, up to a deadline. */
export function settled<T>(future: Future<T>, deadline: number, signal: AbortSignal | undefined, what = 'map()'): Promise<void> {
  if (future.done()) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDone = (): void => {
      cleanup()
      resolve()
    }
    const onAbort = (): void => {
      future[kRemoveDoneCallback](onDone)
      cleanup()
      reject(new CancelledError(`${what} was aborted`, { cause: signal!.reason }))
    }
    if (Number.isFinite(deadline)) {
      timer = setTimeout(() => {
        future[kRemoveDoneCallback](onDone)
        cleanup()
        reject(new TimeoutError(`${what} timed out`))
      }, Math.max(0, deadline - performance.now()))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    future.addDoneCallback(onDone)
  })
}

/** Reads the settled outcome of a Future synchronously after `settled()`. */
async function outcome<T>(future: Future<T>): Promise<T> {
  return future.result()
}

/**
 * The executor API shared by every backend (Python's `concurrent.futures.Executor`):
 * `submit`, `submitWith`, `map`, `shutdown` and `await using`. Create one of its
 * subclasses: `ThreadPoolExecutor`, `ProcessPoolExecutor`, `InlineExecutor`,
 * `NatsExecutor`, or `getContext(name).Executor`.
 *
 * @example
 * async function sumOfSquares(executor: Executor, xs: number[]): Promise<number> {
 *   let total = 0
 *   for await (const y of executor.map(square, xs)) total += y
 *   return total
 * }
 */
export abstract class Executor {
  /**
   * Schedules `fn(...args)` and returns a Future for its result.
   * `fn` is an exported function of a module, or a `task()` reference.
   *
   * @throws TypeError if `fn` cannot be referenced (closure, built-in, not exported)
   * @throws SerializationError if an argument cannot be sent to a worker
   * @throws BrokenExecutorError after `shutdown()`
   * @example
   * const f = executor.submit(square, 7)
   * console.log(await f) // 49
   */
  submit<F extends TaskFunction>(fn: Task<F>, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    return this.submitWith(undefined, fn, ...args)
  }

  /**
   * `submit` with per-task options: `timeout`, `signal`, `transfer`, `retries`.
   * A task that times out or whose signal aborts is stopped for real.
   *
   * @returns the task's Future; it rejects with `TimeoutError` or `CancelledError` when the task is stopped
   * @throws RangeError for an unknown option; the errors of `submit`
   * @example
   * const f = executor.submitWith({ timeout: 1000, signal }, crunch, data)
   */
  abstract submitWith<F extends TaskFunction>(options: SubmitOptions | undefined, fn: Task<F>, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>>

  /**
   * Stops accepting work. By default waits for queued and running tasks and
   * for the workers to exit; `cancelFutures` cancels what has not started.
   * Idempotent; `submit` afterwards throws `BrokenExecutorError`.
   *
   * @returns a Promise that resolves once the work (unless `wait: false`) and the workers are done
   * @throws RangeError for an unknown option
   * @example
   * await executor.shutdown({ cancelFutures: true })
   */
  abstract shutdown(options?: ShutdownOptions): Promise<void>

  /** How many tasks run at once at most (workers). */
  abstract get maxWorkers(): number

  /**
   * Runs a chunk of calls of one task as a single unit of work.
   * @internal used by `map` and by Pool.
   */
  abstract submitChunk(task: ResolvedTask, argsList: unknown[][]): Future<ChunkResult>

  /**
   * Throws BrokenExecutorError when the executor cannot accept work.
   * @internal
   */
  protected abstract checkOpen(): void

  /**
   * Runs `fn` over the zipped items of the iterables (like Python's
   * `Executor.map`) and yields results in input order as they become
   * available. Inputs are read lazily, at most `buffersize` chunks ahead.
   * The first task error is thrown at its position; leaving the loop early
   * cancels what is queued.
   *
   * @example
   * for await (const y of executor.map(square, [1, 2, 3])) console.log(y)
   * for await (const p of executor.map(pow, bases, exponents, { chunksize: 64 })) ...
   */
  map<F extends TaskFunction>(fn: Task<F>, iterable: AnyIterable<Parameters<F>[0]>, options?: MapOptions): AsyncIterableIterator<Awaited<ReturnType<F>>>
  map<F extends TaskFunction>(
    fn: Task<F>,
    iterable1: AnyIterable<Parameters<F>[0]>,
    iterable2: AnyIterable<Parameters<F>[1]>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<ReturnType<F>>>
  map<F extends TaskFunction>(
    fn: Task<F>,
    iterable1: AnyIterable<Parameters<F>[0]>,
    iterable2: AnyIterable<Parameters<F>[1]>,
    iterable3: AnyIterable<Parameters<F>[2]>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<ReturnType<F>>>
  map<F extends TaskFunction>(fn: Task<F>, ...iterablesAndOptions: unknown[]): AsyncIterableIterator<Awaited<ReturnType<F>>>
  map(fn: Task, ...rest: unknown[]): AsyncIterableIterator<unknown> {
    this.checkOpen()
    const task = resolveTask(fn)
    const { iterables, options } = splitMapArgs(rest)
    return this.mapArgs(task, zipArgs(iterables), options)
  }

  /**
   * The engine behind `map`, `imap`, `starmap`: runs `task` over argument
   * tuples read lazily from `source`, in order.
   * @internal
   */
  mapArgs(task: ResolvedTask, source: Iterator<unknown[]> | AsyncIterator<unknown[]>, rawOptions: Record<string, unknown>, ordered = true): AsyncIterableIterator<unknown> {
    knownKeys('map()', rawOptions, MAP_KEYS)
    const timeout = optionalTimeout('timeout', rawOptions.timeout)
    const chunkOption = rawOptions.chunksize ?? 'auto'
    if (chunkOption !== 'auto') {
      if (typeof chunkOption !== 'number') typeFail('chunksize', "a positive integer or 'auto'", chunkOption)
      if (!Number.isInteger(chunkOption) || chunkOption < 1) rangeFail('chunksize', "a positive integer or 'auto'", chunkOption)
    }
    const buffersize = rawOptions.buffersize === undefined ? Math.max(16, 4 * this.maxWorkers) : positiveInteger('buffersize', rawOptions.buffersize)
    const signal = abortSignal('signal', rawOptions.signal)
    // One stack per map call (cheap), so task errors show where the map was called.
    const callerStack = new Error().stack
    const deadline = timeout === undefined ? Infinity : performance.now() + timeout
    return this.#run(task, source, chunkOption as number | 'auto', buffersize, deadline, timeout, signal, callerStack, ordered)
  }

  async *#run(
    task: ResolvedTask,
    source: Iterator<unknown[]> | AsyncIterator<unknown[]>,
    chunkOption: number | 'auto',
    buffersize: number,
    deadline: number,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
    callerStack: string | undefined,
    ordered: boolean,
  ): AsyncGenerator<unknown> {
    const window = new Deque<Future<ChunkResult>>()
    let exhausted = false
    let perItemMs = NaN
    let chunksize = chunkOption === 'auto' ? 1 : chunkOption

    const readChunk = async (): Promise<unknown[][] | null> => {
      const items: unknown[][] = []
      while (items.length < chunksize) {
        let r = source.next()
        if (r instanceof Promise) r = await r
        if ((r as IteratorResult<unknown[]>).done) {
          exhausted = true
          break
        }
        items.push((r as IteratorResult<unknown[]>).value)
      }
      return items.length > 0 ? items : null
    }
    // The input is read by a pump running beside the consumer, so results
    // that are ready flow while a slow source (a pipe, stdin) is waiting.
    // One pump at a time; it stops when the window is full and is restarted
    // after each result. `wake` tells a consumer with an empty window that a
    // chunk arrived or the pump ended.
    let pump: Promise<void> | null = null
    let stopped = false
    let sourceError: { error: unknown } | null = null
    let wake: (() => void) | null = null
    const notify = (): void => {
      const w = wake
      wake = null
      w?.()
    }
    const fill = async (): Promise<void> => {
      while (!exhausted && !stopped && window.length < buffersize) {
        const items = await readChunk()
        if (items === null || stopped) break
        window.push(this.submitChunk(task, items))
        notify()
      }
    }
    const startFill = (): void => {
      if (pump !== null || exhausted || stopped || sourceError !== null || window.length >= buffersize) return
      pump = fill().then(
        () => {
          pump = null
          notify()
        },
        (error: unknown) => {
          sourceError = { error }
          pump = null
          notify()
        },
      )
    }
    /**
     * With an empty window: waits for a chunk; false when the input is over.
     * An input error comes after the chunks read before it (as in Python's
     * imap); items of an unfinished chunk are dropped with it, as there.
     */
    const awaitChunk = async (): Promise<boolean> => {
      for (;;) {
        if (window.length > 0) return true
        if (sourceError !== null) throw sourceError.error
        startFill()
        if (pump === null) return false
        await waitForChunk()
      }
    }
    // The timeout and the signal also hold while the input is waiting.
    const waitForChunk = (): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined
        const cleanup = (): void => {
          wake = null
          if (timer !== undefined) clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
        }
        const onAbort = (): void => {
          cleanup()
          reject(new CancelledError('map() was aborted', { cause: signal!.reason }))
        }
        wake = () => {
          cleanup()
          resolve()
        }
        if (Number.isFinite(deadline)) {
          timer = setTimeout(() => {
            cleanup()
            reject(new TimeoutError(`map() with timeout ${timeout} ms timed out`))
          }, Math.max(0, deadline - performance.now()))
        }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    const learn = (result: ChunkResult): void => {
      if (chunkOption !== 'auto' || result.values.length === 0) return
      const sample = result.ms / result.values.length
      perItemMs = Number.isNaN(perItemMs) ? sample : perItemMs * 0.7 + sample * 0.3
      const ideal = perItemMs > 0 ? Math.floor(AUTO_CHUNK_TARGET_MS / perItemMs) : AUTO_CHUNK_MAX
      chunksize = Math.max(1, Math.min(AUTO_CHUNK_MAX, ideal))
    }
    const unwrap = (result: ChunkResult, stack: string | undefined): unknown[] => {
      if (result.errors !== undefined && result.errors.size > 0) {
        // Yield up to the first failing item, then throw it (as Python's map does).
        const first = Math.min(...result.errors.keys())
        const error = result.errors.get(first)
        if (error instanceof Error && stack !== undefined && typeof error.stack === 'string') {
          const frames = stack.split('\n').filter((l) => l.trimStart().startsWith('at ')).join('\n')
          if (frames) Object.defineProperty(error, 'stack', { value: `${error.stack}\n${frames}`, writable: true, configurable: true })
        }
        return [...result.values.slice(0, first), { [kThrow]: error }]
      }
      return result.values
    }

    try {
      if (signal?.aborted) throw new CancelledError('map() was aborted', { cause: signal.reason })
      startFill()
      if (ordered) {
        while (await awaitChunk()) {
          const head = window.peek()!
          await settled(head, deadline, signal, `map() with timeout ${timeout} ms`)
          window.shift()
          const result = await outcome(head)
          learn(result)
          startFill()
          for (const value of unwrap(result, callerStack)) {
            if (isThrow(value)) throw value[kThrow]
            yield value
          }
        }
      } else {
        // Completion order: yield each chunk as soon as it is done.
        while (await awaitChunk()) {
          const { future } = await firstDone(window, deadline, signal)
          const result = await outcome(future)
          learn(result)
          startFill()
          for (const value of unwrap(result, callerStack)) {
            if (isThrow(value)) throw value[kThrow]
            yield value
          }
        }
      }
    } finally {
      stopped = true
      for (const f of window) f.cancel()
      window.clear()
      if (!exhausted) {
        try {
          const r = source.return?.()
          // A pump still waiting on the source may hold it: closing an async
          // generator then waits for that read, which may never come (stdin).
          if (r instanceof Promise) {
            if (pump === null) await r
            else r.catch(() => {})
          }
        } catch {
          // closing the user's iterator must not hide the real outcome
        }
      }
    }
  }

  /** `await using executor = new ThreadPoolExecutor()`: shuts down and waits. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ wait: true })
  }
}

const kThrow = Symbol('throw')
function isThrow(value: unknown): value is { [kThrow]: unknown } {
  return typeof value === 'object' && value !== null && kThrow in value
}

/**
 * Waits until some Future of the window is done, then removes and returns it
 * (inside a box: resolving a promise with a Future would await the Future).
 */
function firstDone(window: Deque<Future<ChunkResult>>, deadline: number, signal: AbortSignal | undefined): Promise<{ future: Future<ChunkResult> }> {
  const take = (): { future: Future<ChunkResult> } | null => {
    const items = [...window]
    const index = items.findIndex((f) => f.done())
    if (index < 0) return null
    const [future] = items.splice(index, 1)
    window.clear()
    for (const item of items) window.push(item)
    return { future: future! }
  }
  const ready = take()
  if (ready !== null) return Promise.resolve(ready)
  return new Promise((resolve, reject) => {
    const items = [...window]
    let timer: NodeJS.Timeout | undefined
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      for (const f of items) f[kRemoveDoneCallback](onDone)
    }
    const onDone = (): void => {
      cleanup()
      resolve(take()!)
    }
    const onAbort = (): void => {
      cleanup()
      reject(new CancelledError('map() was aborted', { cause: signal!.reason }))
    }
    if (Number.isFinite(deadline)) {
      timer = setTimeout(() => {
        cleanup()
        reject(new TimeoutError('map() timed out'))
      }, Math.max(0, deadline - performance.now()))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    for (const f of items) f.addDoneCallback(onDone)
  })
}

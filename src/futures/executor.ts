/**
 * Executor: the contract every executor fulfils (Python's `concurrent.futures.Executor`).
 *
 * Subclasses implement `submitWith`, `shutdown` and the chunk primitive;
 * `submit` and `map` are written once here. `map` returns an async
 * iterator in input order (Python's `Executor.map` returns an iterator)
 * that reads its inputs lazily through a bounded window, so an infinite
 * generator works, and that sizes its chunks from measured task times
 * unless told otherwise: that engine is map_engine.ts.
 */
import type { Transferable } from '../wire/transfer.js'
import { resolveTask, type ResolvedTask, type Task, type TaskFunction } from '../task_ref.js'
import type { Future } from './future.js'
import { mapInChunks, splitMapArgs, zipArgs, type AnyIterable, type ChunkResult } from './map_engine.js'
import type { RetryBackoff, RetryOn } from './retry_policy.js'

export type { AnyIterable, ChunkResult }

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
  /** How many times to run the task again if its worker crashes (or it throws an error `retryOn` names). Default: the executor's `retries` (0). */
  retries?: number
  /**
   * Errors thrown by the task that run it again, under the same \`retries\`
   * budget as a crash: error classes (\`instanceof\`, or the class name of an
   * error rebuilt as \`RemoteError\`), error names or codes (\`'ECONNRESET'\`),
   * or a function \`(error, attempt) => boolean\`. Default: the executor's
   * (none: a task that throws fails at once).
   */
  retryOn?: RetryOn
  /** The waits before runs again under \`retryOn\`: \`{ initial: 100, factor: 2, max: 10000, jitter: true }\` by default. */
  retryBackoff?: RetryBackoff
  /**
   * Hears the values the task gives `progress()` (`multiproc/task`) while it
   * runs, in order, at most one per 50 ms (the latest), the last one before
   * the Future settles; none after. Without it the worker sends none.
   */
  onProgress?: (value: unknown) => void
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
  /**
   * Hears the values the items' tasks give `progress()` (`multiproc/task`),
   * with the index of the item in the input (as `submitWith`'s `onProgress`).
   */
  onProgress?: (value: unknown, index: number) => void
}

/** Options of `shutdown`. */
export interface ShutdownOptions {
  /** Wait for queued and running tasks to finish and for the workers to exit. Default true. */
  wait?: boolean
  /** Cancel the tasks that have not started yet. Default false. */
  cancelFutures?: boolean
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
   * tuples read lazily from `source`, in order unless `ordered` is false.
   * @internal
   */
  mapArgs(task: ResolvedTask, source: Iterator<unknown[]> | AsyncIterator<unknown[]>, rawOptions: Record<string, unknown>, ordered = true): AsyncIterableIterator<unknown> {
    return mapInChunks(this, task, source, rawOptions, ordered)
  }

  /** `await using executor = new ThreadPoolExecutor()`: shuts down and waits. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ wait: true })
  }
}

/**
 * The engine behind `Executor.map` and Pool's `imap`/`imapUnordered`/`starmap`:
 * runs one task over argument tuples read lazily from a source, in chunks,
 * through a bounded window of chunk Futures, and yields the values in input
 * order or in completion order.
 *
 *   source ─▶ pump: read a chunk ─▶ submitChunk ─▶ window (≤ buffersize chunks) ─▶ consumer
 *      ▲                                                                │
 *      └──────────────── restarted after each chunk taken ◀─────────────┘
 *
 * With `chunksize: 'auto'` chunks start at one item and grow from measured
 * item times until a chunk runs about a millisecond on local workers, then
 * with the work done, up to 8 ms (LOCAL_MAX_TARGET_MS), or as long as the
 * scheduler asks (the cluster: a few message round trips; scheduler.ts
 * `autoChunk`). On workers that run N
 * tasks at once (`concurrentTasksPerWorker`) the items of a chunk run N at
 * once, so a chunk of slow asynchronous items runs as long as one item
 * whatever its size: there chunks hold at least enough items for the window
 * to keep every worker's lanes busy twice over. The timeout and the signal
 * hold for the whole iteration, also while the input is waiting.
 *
 * Work here is per chunk, never per item beyond copying values out: a map
 * of a million tiny items is a measured path.
 */
import { CancelledError, TimeoutError, invalidArgType } from '../errors.js'
import { deadlineOf, until, type Ending, type Listen } from '../internal/deadline.js'
import { Deque } from '../internal/deque.js'
import { abortSignal, func, knownKeys, optionalTimeout, plainObject, positiveInteger, rangeFail, typeFail } from '../internal/validate.js'
import type { ResolvedTask } from '../task_ref.js'
import { kOutcome, kRemoveDoneCallback, type Future } from './future.js'
import type { AutoChunk } from './scheduler.js'

/** The outcome of a chunk of calls: a value per item, errors where items threw. */
export interface ChunkResult {
  values: unknown[]
  errors: Map<number, unknown> | undefined
  /** Milliseconds the worker spent on the chunk. */
  ms: number
}

/** Anything `map` reads from. */
export type AnyIterable<T> = Iterable<T> | AsyncIterable<T>

/** What the engine needs of an executor. */
export interface ChunkSubmitter {
  /** How many tasks run at once at most; the default window is four chunks per worker. */
  readonly maxWorkers: number
  /** Tasks (and chunk items) each worker runs at once; absent: 1. */
  readonly concurrentTasksPerWorker?: number
  submitChunk(task: ResolvedTask, argsList: unknown[][], retries?: number, onProgress?: (value: unknown, item: number) => void): Future<ChunkResult>
  /** A chunk of one-argument calls whose items travel as one flat array (a map over one iterable). */
  submitItems?(task: ResolvedTask, items: unknown[], onProgress?: (value: unknown, item: number) => void): Future<ChunkResult>
  /** How automatic chunks are sized here (scheduler.ts); absent or undefined: the local sizing. */
  autoChunk?(): AutoChunk | undefined
}

/** A map's progress listener: a value and the index of its item in the input. */
type MapProgress = (value: unknown, index: number) => void

const MAP_KEYS = ['timeout', 'chunksize', 'buffersize', 'signal', 'onProgress'] as const
/**
 * One-item chunks sent before the first answer: one per worker, up to this
 * many (the cluster's maxWorkers is its 64 tasks in flight, not its threads).
 */
const PROBE_CHUNKS = 16
/**
 * Local automatic chunks start at about 1 ms of work each (a message costs a
 * few µs of the worker's time) and grow with the work done, a chunk holding
 * at most 1/LOCAL_RAMP of it, up to LOCAL_MAX_TARGET_MS. Each chunk also
 * costs the main thread (the message each way, its Future, waking the
 * consumer, writing its results) some tens of µs, and when the workers fill
 * every core that time is taken from them: 1 ms chunks cost a long map
 * several percent of its workers. Larger chunks at the start would leave the
 * last chunk of a short map running alone on one worker.
 */
const LOCAL_AUTO_CHUNK: AutoChunk = { targetMs: 1, maxItems: 4096 }
const LOCAL_MAX_TARGET_MS = 8
const LOCAL_RAMP = 16

/** The local sizing once `workedMs` of the map's work is done. */
export function localAutoChunk(workedMs: number): AutoChunk {
  return { targetMs: Math.min(LOCAL_MAX_TARGET_MS, Math.max(LOCAL_AUTO_CHUNK.targetMs, workedMs / LOCAL_RAMP)), maxItems: LOCAL_AUTO_CHUNK.maxItems }
}

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
/** On the tuples of a single iterable (zipArgs): the iterable's own iterator, so the engine can read bare items. */
const kItems = Symbol('multiproc.items')

export function zipArgs(iterables: AnyIterable<unknown>[]): Iterator<unknown[]> | AsyncIterator<unknown[]> {
  const allSync = iterables.every((it) => typeof (it as Iterable<unknown>)[Symbol.iterator] === 'function')
  if (allSync) {
    const its = iterables.map((it) => (it as Iterable<unknown>)[Symbol.iterator]())
    if (its.length === 1) {
      const it = its[0]!
      const tuples: Iterator<unknown[]> & { [kItems]: Iterator<unknown> } = {
        [kItems]: it,
        next(): IteratorResult<unknown[]> {
          const r = it.next()
          return r.done ? { done: true, value: undefined } : { done: false, value: [r.value] }
        },
        return(): IteratorResult<unknown[]> {
          it.return?.()
          return { done: true, value: undefined }
        },
      }
      return tuples
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
    // One async iterable (the lines of a file): the engine reads its items bare too.
    ...(its.length === 1 ? { [kItems]: its[0]! } : {}),
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

const DONE_NOW: Promise<Ending> = Promise.resolve('done')

/**
 * Waits for a Future until a deadline or an abort, without creating a
 * promise on the Future itself (that would be a second settlement path).
 */
export function settled(future: Future<unknown>, deadline: number, signal: AbortSignal | undefined): Promise<Ending> {
  if (future.done()) return DONE_NOW
  return until(
    (wake) => {
      future.addDoneCallback(wake)
      return () => future[kRemoveDoneCallback](wake)
    },
    deadline,
    signal,
  )
}

/** Reads the settled outcome of a Future after `settled()`. */
async function outcome<T>(future: Future<T>): Promise<T> {
  return future.result()
}

/**
 * Checks `map`'s options and returns the iteration: `task` over the argument
 * tuples of `source`, chunks submitted to `executor`; in input order unless
 * `ordered` is false.
 */
export function mapInChunks(
  executor: ChunkSubmitter,
  task: ResolvedTask,
  source: Iterator<unknown[]> | AsyncIterator<unknown[]>,
  rawOptions: Record<string, unknown>,
  ordered: boolean,
): AsyncIterableIterator<unknown> {
  knownKeys('map()', rawOptions, MAP_KEYS)
  const timeout = optionalTimeout('timeout', rawOptions.timeout)
  const chunkOption = rawOptions.chunksize ?? 'auto'
  if (chunkOption !== 'auto') {
    if (typeof chunkOption !== 'number') typeFail('chunksize', "a positive integer or 'auto'", chunkOption)
    if (!Number.isInteger(chunkOption) || chunkOption < 1) rangeFail('chunksize', "a positive integer or 'auto'", chunkOption)
  }
  const buffersize = rawOptions.buffersize === undefined ? Math.max(16, 4 * executor.maxWorkers) : positiveInteger('buffersize', rawOptions.buffersize)
  const signal = abortSignal('signal', rawOptions.signal)
  const onProgress = rawOptions.onProgress === undefined ? undefined : (func('onProgress', rawOptions.onProgress) as MapProgress)
  // One stack per map call (cheap), so task errors show where the map was called.
  const callerStack = new Error().stack
  const deadline = deadlineOf(timeout)
  // Lanes: auto chunks never hold fewer items than it takes the window to fill every lane twice.
  const lanes = (executor.concurrentTasksPerWorker ?? 1) * executor.maxWorkers
  const leastChunk = lanes > executor.maxWorkers ? Math.min(LOCAL_AUTO_CHUNK.maxItems, Math.ceil((2 * lanes) / buffersize)) : 1
  return run(executor, task, source, chunkOption as number | 'auto', leastChunk, buffersize, deadline, timeout, signal, callerStack, ordered, onProgress)
}

async function* run(
  executor: ChunkSubmitter,
  task: ResolvedTask,
  source: Iterator<unknown[]> | AsyncIterator<unknown[]>,
  chunkOption: number | 'auto',
  leastChunk: number,
  buffersize: number,
  deadline: number,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  callerStack: string | undefined,
  ordered: boolean,
  onProgress: MapProgress | undefined,
): AsyncGenerator<unknown> {
  const window = new Deque<Future<ChunkResult>>()
  let exhausted = false
  /** Items read so far: the input index of the next chunk's first item. */
  let read = 0
  // Decayed sums of the worker's time and of the items it covers: the
  // per-item estimate is their ratio, so a big chunk weighs as many items as
  // it holds and the first one-item chunks (mostly fixed overhead) stop
  // mattering after one or two larger ones.
  let learnedMs = 0
  let learnedItems = 0
  /** The workers' time of every chunk learned from: how far local chunks have grown. */
  let workedMs = 0
  let chunksize = chunkOption === 'auto' ? leastChunk : chunkOption

  /** The error that ends the iteration when a wait ended other than done. */
  const stop = (ending: Ending): Error =>
    ending === 'timed-out' ? new TimeoutError(`map() with timeout ${timeout} ms timed out`) : new CancelledError('map() was aborted', { cause: signal!.reason })

  // A map over one iterable sends its items as they are, one flat array per
  // chunk, with no argument array per item (as Pool's map does); an async
  // one is read without a tuple and a promise of zipArgs's per item.
  const bare = executor.submitItems !== undefined ? ((source as { [kItems]?: Iterator<unknown> | AsyncIterator<unknown> })[kItems] ?? null) : null
  const readChunk = async (): Promise<unknown[] | null> => {
    if (bare !== null) {
      const items: unknown[] = []
      while (items.length < chunksize) {
        let r = bare.next()
        if (r instanceof Promise) r = await r
        if ((r as IteratorResult<unknown>).done) {
          exhausted = true
          break
        }
        items.push((r as IteratorResult<unknown>).value)
      }
      return items.length > 0 ? items : null
    }
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
  // Automatic chunks start at one item, and until one has come back nothing
  // is known of the task: a chunk per worker, not a whole window of them
  // (on the cluster, hundreds of one-item messages before the first answer).
  // (Workers that run many tasks at once get their least chunks at once, to fill their lanes.)
  const probing = chunkOption === 'auto' && leastChunk === 1 ? Math.max(1, Math.min(buffersize, executor.maxWorkers, PROBE_CHUNKS)) : buffersize
  // While the chunks still grow (each size learned from smaller ones, whose
  // fixed cost makes items look slow), the window stays that small too: a
  // whole window of chunks sized from the first answers would carry most of
  // a short input in chunks far below the size it ends at.
  let growing = chunkOption === 'auto'
  const room = (): number => (growing ? probing : buffersize)
  const fill = async (): Promise<void> => {
    while (!exhausted && !stopped && window.length < room()) {
      const items = await readChunk()
      if (items === null || stopped) break
      const base = read
      read += items.length
      const heard = onProgress === undefined ? undefined : (value: unknown, item: number): void => onProgress(value, base + item)
      const chunk = bare !== null ? executor.submitItems!(task, items, heard) : executor.submitChunk(task, items as unknown[][], undefined, heard)
      if (chunkOption === 'auto') chunk.addDoneCallback(learn)
      window.push(chunk)
      notify()
    }
  }
  const startFill = (): void => {
    if (pump !== null || exhausted || stopped || sourceError !== null || window.length >= room()) return
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
  // The timeout and the signal also hold while the input is waiting.
  const listenForChunk: Listen = (w) => {
    wake = w
    return () => {
      wake = null
    }
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
      const ending = await until(listenForChunk, deadline, signal)
      if (ending !== 'done') throw stop(ending)
    }
  }
  // Learns from every chunk as it finishes, not as the consumer reaches it:
  // the window may hold hundreds of one-item chunks sent before the first
  // answer, and waiting for them in order would keep chunks small for as long.
  const learn = (chunk: Future<ChunkResult>): void => {
    // A chunk cancelled (the map was left early) has no outcome to learn from.
    if (chunk.cancelled()) return
    const done = chunk[kOutcome]()
    if (done.failed) return
    const result = done.value!
    if (result.values.length === 0) return
    learnedMs = learnedMs * 0.5 + Math.max(0, result.ms)
    learnedItems = learnedItems * 0.5 + result.values.length
    const perItemMs = learnedMs / learnedItems
    workedMs += Math.max(0, result.ms)
    const { targetMs, maxItems } = executor.autoChunk?.() ?? localAutoChunk(workedMs)
    const ideal = perItemMs > 0 ? Math.floor(targetMs / perItemMs) : maxItems
    const next = Math.max(leastChunk, Math.min(maxItems, ideal))
    growing = next > chunksize * 1.5
    chunksize = next
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
        const ending = await settled(head, deadline, signal)
        if (ending !== 'done') throw stop(ending)
        window.shift()
        const result = await outcome(head)
        startFill()
        for (const value of unwrap(result, callerStack)) {
          if (isThrow(value)) throw value[kThrow]
          yield value
        }
      }
    } else {
      // Completion order: yield each chunk as soon as it is done.
      while (await awaitChunk()) {
        const taken = await firstDone(window, deadline, signal)
        if (typeof taken === 'string') throw stop(taken)
        const result = await outcome(taken.future)
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

const kThrow = Symbol('throw')
function isThrow(value: unknown): value is { [kThrow]: unknown } {
  return typeof value === 'object' && value !== null && kThrow in value
}

/**
 * Waits until some Future of the window is done, then removes and returns it
 * (inside a box: resolving a promise with a Future would await the Future);
 * or how the wait ended when the deadline or the signal came first.
 */
async function firstDone(
  window: Deque<Future<ChunkResult>>,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<{ future: Future<ChunkResult> } | Exclude<Ending, 'done'>> {
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
  if (ready !== null) return ready
  const items = [...window]
  const ending = await until(
    (wake) => {
      for (const f of items) f.addDoneCallback(wake)
      return () => {
        for (const f of items) f[kRemoveDoneCallback](wake)
      }
    },
    deadline,
    signal,
  )
  return ending === 'done' ? take()! : ending
}

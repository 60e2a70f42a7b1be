/**
 * The task loop that runs inside every worker (thread, child process, inline),
 * and for a cluster worker's units inside its threads (backends/nats/run_task.ts).
 * The result buffer (result_buffer.ts), lanes (lanes.ts), a chunk's values
 * (running_chunk.ts) and progress (progress_sink.ts) live apart; the two
 * loops stay in this one file of about 530 lines because both drive the
 * same counters and buffer in the same order, which is what crash recovery
 * on the caller's side relies on.
 *
 *   run messages ──▶ batches (FIFO) ──▶ drain(): for each task
 *                                        ├─ look up the function (import once per module)
 *                                        ├─ counters[STARTED]++ ; call ; await if a promise
 *                                        ├─ counters[FINISHED]++ ; buffer the result
 *                                        └─ flush when the queue is empty or 1 ms passed
 *
 * Tasks run one at a time, in the order received, and results go back in
 * that order: the caller pairs them with its in-flight list. A task counts
 * as started before its module is imported, so a module that kills the
 * worker while it loads is blamed on the task that needed it. Buffering
 * results while more tasks wait turns a burst of tiny tasks into one
 * message instead of one per task; the 1 ms bound keeps latency low when
 * tasks are slow. Before a task may take long (any task after 1 ms of
 * buffering) the buffer is flushed, so a crash loses no finished result
 * except in the (at most 1 ms) window before the next flush. The buffer and
 * its message are result_buffer.ts.
 *
 * A finished result is never held behind a task that waits: that task may
 * be waiting for the caller to act on the result (set an Event once it has
 * seen it), and holding the result would make both wait for ever. So the
 * buffer goes out as soon as a task yields to the event loop (a setImmediate
 * armed while results are buffered) or blocks its thread in a primitive's
 * sync wait (the hook of sync/monitor.ts). A burst of tasks that never
 * yields still leaves as one message.
 *
 * Chunks (map). Before each item of a chunk the worker records the item's
 * index (COUNTER_ITEM: a shared Int32 store for threads, one 4-byte pwrite
 * for processes), so after a crash the caller knows which item was running.
 * A chunk that runs longer than CHUNK_FLUSH_MS (chunk_loop.ts, which runs
 * the items) sends the values it has so
 * far with the next flush (`p` of a 'done' message), and a dying worker
 * flushes them too (exit_guard.ts): the items that finished are delivered,
 * only the running one fails (or is retried), and the rest are sent again.
 * A worker killed outright (SIGKILL, out of memory) loses at most the items
 * of its last CHUNK_FLUSH_MS, which the caller runs again.
 *
 * Progress. A task whose caller listens (FLAG_PROGRESS) runs in the context
 * of a ProgressSink (progress_sink.ts), which hears its `progress()` calls,
 * throttles them and hands them here; they leave after every result
 * finished before them, so the caller pairs them with the head of its
 * in-flight list, as it pairs results. Other tasks run exactly as before.
 *
 * Lanes (`concurrency` > 1, the executor's `concurrentTasksPerWorker`). The
 * worker starts tasks in the order received, each as soon as one of its N
 * lanes is free, without waiting for the task before it to finish: an
 * asynchronous task holds its lane while it awaits, and the next one starts
 * meanwhile. The items of a chunk take lanes too, one each, in order
 * (running_chunk.ts keeps their values in item order); the next task starts
 * once every item of the chunk has started. Results go back as tasks finish,
 * each with its sequence number (`k`), buffered until the event loop turns
 * (completions of one timer tick leave in one message). Counters still
 * count tasks (and the item started last) in the order they started, so
 * after a crash the caller knows which tasks had started. A synchronous task
 * blocks its thread, and with it every lane, as it would anyway.
 *
 * One file of a little over 500 lines: the two loops (in order, in lanes)
 * share the task queue, the function table, the counters and the progress
 * plumbing, and each reads best beside the other.
 */
import { FLAG_FLAT, FLAG_PROGRESS, FLAG_SHARED, KIND_CHUNK, KIND_MASK, STATUS_ERROR, STATUS_OK, type ChunkOutcome, type ToWorker, type WorkerInit } from '../wire/messages.js'
import { serializeError, type SerializedError } from '../wire/remote_error.js'
import { loadTask, type LoadedTask } from './task_loader.js'
import { Deque } from '../internal/deque.js'
import type { ReviveContext } from '../wire/shareable.js'
import type { ProgressSink } from './progress_sink.js'
import type { Lanes } from './lanes.js'
import { ResultBuffer, partValues, type ChunkPart, type RuntimePort } from './result_buffer.js'
import { isPacked } from '../internal/pack_numbers.js'
import type { RunningChunk } from './running_chunk.js'
import { ChunkLoop, isThenable } from './chunk_loop.js'

export type { RuntimePort } from './result_buffer.js'

export const COUNTER_STARTED = 0
export const COUNTER_FINISHED = 1
/** Index, within the running chunk as it was sent, of the item started last (0 for a call). */
export const COUNTER_ITEM = 2
/** Bytes of the shared counters. */
export const COUNTERS_BYTES = 12

const FLUSH_AFTER_MS = 1

// What only some workers need is imported on first use: every module of the worker's
// graph is read and compiled before its first task, and that is most of a cold start.
// Progress (a caller that listens), lanes (concurrentTasksPerWorker > 1) and shareable
// arguments (a Lock, a Queue...) are not needed by a plain task.
let progressModule: typeof import('./progress_sink.js') | null = null
let chunkClass: typeof RunningChunk | null = null

async function loadProgress(): Promise<void> {
  progressModule ??= await import('./progress_sink.js')
}

async function makeLanes(concurrency: number): Promise<Lanes> {
  const [{ Lanes }, { RunningChunk }] = await Promise.all([import('./lanes.js'), import('./running_chunk.js')])
  chunkClass = RunningChunk
  return new Lanes(concurrency)
}

async function reviveShareables(value: unknown, context: ReviveContext): Promise<unknown> {
  return (await import('../wire/shareable.js')).reviveShareables(value, context)
}
/** Messages one drain takes from the port itself (RuntimePort.poll) before it lets the event loop turn. */
const MAX_POLLED = 256

export class TaskRunner {
  readonly #port: RuntimePort
  readonly #init: WorkerInit
  readonly #counters: Int32Array | null
  readonly #batches = new Deque<unknown[]>()
  #pos = 0
  readonly #decls: ({ module: string; name: string } | undefined)[] = []
  readonly #fns: (LoadedTask | undefined)[] = []
  /** What finished and was not sent yet (result_buffer.ts). */
  readonly #out: ResultBuffer
  /** When a progress value last forced a flush (shared by the tasks of this runner: see progress_sink.ts). */
  readonly #progressClock = { last: -Infinity }
  /** The lanes of a worker that runs several tasks at once (`concurrency` > 1); null: one at a time, results in order. */
  /** Made by #drain before the first task (makeLanes) when `concurrency` > 1. */
  #lanes: Lanes | null = null
  readonly #concurrency: number
  /** Lanes: tasks received so far (the next one's sequence number). */
  #received = 0
  /** Lanes: tasks started and not finished. */
  #inFlight = 0
  /** The task `#next()` took: its flags, function index and arguments. */
  #flags = 0
  #index = 0
  #args: unknown[] = []
  #started = 0
  #draining = false
  #ready: Promise<boolean> | null = null
  #initOk: boolean | null = null
  #stopRequested = false
  #abandoned = false
  onStop: (() => void) | null = null

  get #reviveContext(): ReviveContext {
    return { backend: this.#init.backend ?? 'thread' }
  }

  constructor(port: RuntimePort, init: WorkerInit) {
    this.#port = port
    this.#init = init
    this.#counters = init.counters !== null ? new Int32Array(init.counters) : null
    this.#concurrency = init.concurrency ?? 1
    this.#out = new ResultBuffer(port, this.#concurrency > 1)
  }

  /** Runs the initializer, then says ready (or init-error). Resolves to success. */
  start(): Promise<boolean> {
    this.#ready ??= this.#runInitializer().then((ok) => (this.#initOk = ok))
    return this.#ready
  }

  /** The caller stopped listening (inline backend after a kill): run nothing more. */
  abandon(): void {
    this.#abandoned = true
    this.#out.release()
    this.#batches.clear()
  }

  receive(message: ToWorker): void {
    if (this.#abandoned) return
    if (message.t === 'run') {
      if (message.f !== undefined) {
        for (const [index, module, name] of message.f) this.#decls[index] = { module, name }
      }
      this.#batches.push(message.q)
      if (!this.#draining) void this.#drain()
    } else if (message.t === 'stop') {
      this.#stopRequested = true
      if (!this.#draining) this.#maybeStop()
    }
  }

  /** Sends buffered results now (called before the worker exits, too). */
  flush(): void {
    this.#out.flush()
  }

  async #runInitializer(): Promise<boolean> {
    const init = this.#init.initializer
    if (init === null) {
      this.#port.post({ t: 'ready' })
      return true
    }
    try {
      const fn = await loadTask(init.module, init.name)
      const initargs = this.#init.initargsShared
        ? ((await reviveShareables(this.#init.initargs, this.#reviveContext)) as unknown[])
        : this.#init.initargs
      const out = fn(...initargs)
      if (isThenable(out)) await out
    } catch (error) {
      this.#port.post({ t: 'init-error', e: serializeError(error) as SerializedError })
      return false
    }
    this.#port.post({ t: 'ready' })
    return true
  }

  async #drain(): Promise<void> {
    this.#draining = true
    const ok = this.#initOk ?? (this.#ready === null ? true : await this.#ready)
    if (!ok) {
      this.#draining = false
      return
    }
    if (this.#concurrency > 1 && this.#lanes === null) this.#lanes = await makeLanes(this.#concurrency)
    try {
      // A batch received while the loop's promise settled (a message handled from a nextTick, before
      // this continuation's microtask) found the runner draining: it is run here, not left behind.
      let polled = 0
      do {
        if (!(await (this.#lanes === null ? this.#runInOrder() : this.#runInLanes(this.#lanes)))) return
        // Messages that arrived while the tasks ran are taken now, not after the event loop turns:
        // their results then leave with these (see RuntimePort.poll). Bounded, so timers still run.
        if (this.#batches.length === 0 && polled < MAX_POLLED) polled += this.#poll()
      } while (this.#batches.length > 0)
      this.flush()
    } finally {
      this.#draining = false
    }
    this.#maybeStop()
  }

  /** Receives the messages that already arrived (RuntimePort.poll); returns how many. */
  #poll(): number {
    const poll = this.#port.poll
    if (poll === undefined) return 0
    let n = 0
    for (let message = poll(); message !== undefined; message = poll()) {
      this.receive(message as ToWorker)
      n++
      if (this.#stopRequested) break
    }
    return n
  }

  /** Takes the next task received into #flags, #index, #args; false when none is left. */
  #next(): boolean {
    for (;;) {
      const batch = this.#batches.peek()
      if (batch === undefined) return false
      if (this.#pos >= batch.length) {
        this.#batches.shift()
        this.#pos = 0
        continue
      }
      this.#flags = batch[this.#pos] as number
      this.#index = batch[this.#pos + 1] as number
      this.#args = batch[this.#pos + 2] as unknown[]
      batch[this.#pos + 2] = undefined
      this.#pos += 3
      return true
    }
  }

  /** The function of index `index`, imported on first use. */
  async #load(index: number): Promise<LoadedTask> {
    const decl = this.#decls[index]
    if (decl === undefined) throw new Error(`internal: task function #${index} was never declared to this worker`)
    const fn = await loadTask(decl.module, decl.name)
    this.#fns[index] = fn
    return fn
  }

  /** Counts a task as started: before its module loads (see the header). */
  #countStart(): void {
    const counters = this.#counters
    if (counters !== null) {
      Atomics.store(counters, COUNTER_ITEM, 0)
      Atomics.add(counters, COUNTER_STARTED, 1)
    }
    this.#port.started?.(++this.#started)
  }

  /** Tasks one at a time, results in order. Returns false when the runner was abandoned meanwhile. */
  async #runInOrder(): Promise<boolean> {
    const counters = this.#counters
    const out = this.#out
    while (this.#next()) {
      if (this.#abandoned) return false
      const flags = this.#flags
      const kind = flags & KIND_MASK
      const index = this.#index
      let args = this.#args

      // Flush before a task that might take long, so finished results are not held hostage.
      if (out.results.length > 0 && performance.now() - out.lastFlush > FLUSH_AFTER_MS) out.flush()
      // Results still buffered go out if this task waits on the event loop.
      if (out.results.length > 0) out.flushSoon()

      this.#countStart()

      let fn = this.#fns[index]
      if (fn === undefined) {
        try {
          fn = await this.#load(index)
        } catch (error) {
          if (counters !== null) Atomics.add(counters, COUNTER_FINISHED, 1)
          out.results.push(STATUS_ERROR, serializeError(error))
          out.finished++
          continue
        }
      }

      if ((flags & FLAG_SHARED) !== 0) {
        try {
          args = (await reviveShareables(args, this.#reviveContext)) as unknown[]
        } catch (error) {
          if (counters !== null) Atomics.add(counters, COUNTER_FINISHED, 1)
          out.results.push(STATUS_ERROR, serializeError(error))
          out.finished++
          continue
        }
      }

      // Only a task whose caller listens runs in a progress context (progress_sink.ts).
      if ((flags & FLAG_PROGRESS) !== 0 && progressModule === null) {
        await loadProgress()
        if (this.#abandoned) return false
      }
      const sink = (flags & FLAG_PROGRESS) === 0 ? undefined : new progressModule!.ProgressSink((pairs, now) => this.#addProgress(out.results.length >> 1, pairs, now), this.#progressClock)
      const t0 = performance.now()
      if (kind === KIND_CHUNK) {
        // Values are pushed, never written into a preallocated array: a holey
        // array is cloned index by index, a packed one in one dense run.
        const part: ChunkPart = { v: [], e: undefined, at: t0, base: 0, packed: isPacked(args) }
        out.part = part
        const flat = (flags & FLAG_FLAT) !== 0
        const loop = new ChunkLoop(out, part, counters, this.#port.item, t0)
        const withProgress = sink === undefined ? undefined : progressModule!.withProgress
        // The items run in chunk_loop.ts; it stops at an item that returned a thenable, awaited here.
        for (let i = loop.run(fn, args, flat, 0, sink, withProgress); i < args.length; i = loop.run(fn, args, flat, i + 1, sink, withProgress)) {
          try {
            // Awaited first: `part.v` is read after the await, since a flush meanwhile (the event
            // loop turned) sent the values so far and started a new array.
            const value = await loop.pending
            part.v.push(out.unwrapTransfer(value))
          } catch (error) {
            loop.failed(i, error)
          }
          loop.pending = undefined
        }
        sink?.close()
        out.part = null
        // The values not sent with a flush yet; the caller appends them to those it has.
        out.results.push(STATUS_OK, { v: partValues(part), e: part.e, d: performance.now() - t0 } satisfies ChunkOutcome)
      } else {
        try {
          const callArgs = args
          let value = sink === undefined ? fn(...args) : progressModule!.withProgress(sink, () => fn(...callArgs))
          if (isThenable(value)) value = await value
          sink?.close()
          out.results.push(STATUS_OK, out.unwrapTransfer(value))
        } catch (error) {
          sink?.close()
          out.results.push(STATUS_ERROR, serializeError(error))
        }
      }
      out.busy += performance.now() - t0
      out.finished++
      if (counters !== null) Atomics.add(counters, COUNTER_FINISHED, 1)
    }
    return !this.#abandoned
  }

  /**
   * Tasks in lanes (see the header): each starts once a lane is free, and
   * answers with its sequence number when it ends. Returns once every task
   * received has started (false when the runner was abandoned meanwhile);
   * the tasks it started finish on their own.
   */
  async #runInLanes(lanes: Lanes): Promise<boolean> {
    while (this.#next()) {
      const flags = this.#flags
      const index = this.#index
      let args = this.#args
      const seq = this.#received++
      if (!lanes.tryTake()) {
        this.#out.flushSoon()
        await lanes.take()
      }
      if (this.#abandoned) return false
      if (this.#out.results.length > 0 && performance.now() - this.#out.lastFlush > FLUSH_AFTER_MS) this.#out.flush()
      this.#countStart()
      this.#inFlight++
      const t0 = performance.now()

      let fn = this.#fns[index]
      if (fn === undefined) {
        try {
          fn = await this.#load(index)
        } catch (error) {
          this.#callDone(seq, undefined, t0, STATUS_ERROR, error)
          continue
        }
      }
      if ((flags & FLAG_SHARED) !== 0) {
        try {
          args = (await reviveShareables(args, this.#reviveContext)) as unknown[]
        } catch (error) {
          this.#callDone(seq, undefined, t0, STATUS_ERROR, error)
          continue
        }
      }
      if ((flags & FLAG_PROGRESS) !== 0 && progressModule === null) await loadProgress()
      if (this.#abandoned) return false

      const sink = (flags & FLAG_PROGRESS) === 0 ? undefined : new progressModule!.ProgressSink((pairs, now) => this.#addProgress(seq, pairs, now), this.#progressClock)
      if ((flags & KIND_MASK) === KIND_CHUNK) {
        if (!(await this.#startItems(new chunkClass!(seq, args.length, t0, sink), fn, args, (flags & FLAG_FLAT) !== 0, lanes))) return false
        continue
      }
      let value: unknown
      try {
        const callArgs = args
        value = sink === undefined ? fn(...args) : progressModule!.withProgress(sink, () => fn(...callArgs))
      } catch (error) {
        this.#callDone(seq, sink, t0, STATUS_ERROR, error)
        continue
      }
      if (isThenable(value)) {
        Promise.resolve(value).then(
          (v) => this.#callDone(seq, sink, t0, STATUS_OK, v),
          (error: unknown) => this.#callDone(seq, sink, t0, STATUS_ERROR, error),
        )
      } else {
        this.#callDone(seq, sink, t0, STATUS_OK, value)
      }
    }
    return !this.#abandoned
  }

  /** Starts the items of a chunk, each in a lane (the first in the chunk's own); false when abandoned meanwhile. */
  async #startItems(chunk: RunningChunk, fn: LoadedTask, items: unknown[], flat: boolean, lanes: Lanes): Promise<boolean> {
    const counters = this.#counters
    const item = this.#port.item
    const sink = chunk.sink
    if (items.length === 0) {
      lanes.give()
      this.#chunkDone(chunk)
      return true
    }
    this.#out.chunks.add(chunk)
    for (let i = 0; i < items.length; i++) {
      if (i > 0) {
        if (!lanes.tryTake()) {
          this.#out.flushSoon()
          await lanes.take()
          if (this.#abandoned) return false
        }
        if (counters !== null) Atomics.store(counters, COUNTER_ITEM, i)
        else item?.(i)
      }
      const t0 = performance.now()
      const itemArgs = items[i]
      items[i] = undefined
      let value: unknown
      try {
        if (sink === undefined) value = flat ? fn(itemArgs) : fn(...(itemArgs as unknown[]))
        else value = progressModule!.withProgress(new progressModule!.ItemProgress(sink, i), () => (flat ? fn(itemArgs) : fn(...(itemArgs as unknown[]))))
      } catch (error) {
        this.#itemDone(chunk, i, t0, STATUS_ERROR, error)
        continue
      }
      if (isThenable(value)) {
        const at = i
        Promise.resolve(value).then(
          (v) => this.#itemDone(chunk, at, t0, STATUS_OK, v),
          (error: unknown) => this.#itemDone(chunk, at, t0, STATUS_ERROR, error),
        )
      } else {
        this.#itemDone(chunk, i, t0, STATUS_OK, value)
      }
    }
    return true
  }

  /** A call in a lane ended (or could not start): its result is buffered, its lane given back. */
  #callDone(seq: number, sink: ProgressSink | undefined, t0: number, status: number, value: unknown): void {
    if (this.#abandoned) return
    // Its last progress values go before its result.
    sink?.close()
    const out = this.#out
    const ms = performance.now() - t0
    out.results.push(status, status === STATUS_OK ? out.unwrapTransfer(value) : serializeError(value))
    out.seqs.push(seq)
    out.busy += ms
    out.laneMs += ms
    this.#lanes!.give()
    this.#taskEnded()
  }

  /** An item of a chunk in lanes ended: its lane is given back; the chunk answers once its last item ends. */
  #itemDone(chunk: RunningChunk, i: number, t0: number, status: number, value: unknown): void {
    if (this.#abandoned) return
    const out = this.#out
    out.laneMs += performance.now() - t0
    chunk.end(i, status, status === STATUS_OK ? out.unwrapTransfer(value) : serializeError(value))
    this.#lanes!.give()
    if (chunk.left === 0) {
      out.chunks.delete(chunk)
      this.#chunkDone(chunk)
    }
  }

  #chunkDone(chunk: RunningChunk): void {
    chunk.sink?.close()
    const out = this.#out
    const ms = performance.now() - chunk.startedAt
    // The values not sent in parts yet; the caller appends them to those it has.
    out.results.push(STATUS_OK, chunk.outcome(ms))
    out.seqs.push(chunk.seq)
    out.busy += ms
    this.#taskEnded()
  }

  /** A task in a lane ended: counted, its result leaves when the event loop turns, and a stop waits for nothing more. */
  #taskEnded(): void {
    this.#out.finished++
    if (this.#counters !== null) Atomics.add(this.#counters, COUNTER_FINISHED, 1)
    this.#inFlight--
    this.#out.flushSoon()
    if (this.#stopRequested && !this.#draining) this.#maybeStop()
  }

  /**
   * Progress values of a running task: they go with the next flush, after
   * the results before them; `now` flushes at once (the sink's interval is
   * over), otherwise they ride with the task's result. `key`: the number of
   * results buffered before them (in order), or the task's sequence number
   * (in lanes).
   */
  #addProgress(key: number, pairs: unknown[], now: boolean): void {
    this.#out.progress.push(key, pairs)
    if (now) this.#out.flush()
  }

  #maybeStop(): void {
    if (this.#stopRequested && this.#batches.length === 0 && this.#inFlight === 0) {
      this.flush()
      this.onStop?.()
    }
  }
}

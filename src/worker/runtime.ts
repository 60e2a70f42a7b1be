/**
 * The task loop that runs inside every worker (thread, child process, inline),
 * and for a cluster worker's units inside its threads (backends/nats/run_task.ts).
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
 * except in the (at most 1 ms) window before the next flush.
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
 * A chunk that runs longer than CHUNK_FLUSH_MS sends the values it has so
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
 */
import {
  FLAG_FLAT,
  FLAG_PROGRESS,
  FLAG_SHARED,
  KIND_CHUNK,
  KIND_MASK,
  STATUS_ERROR,
  STATUS_OK,
  type ChunkOutcome,
  type FromWorker,
  type ToWorker,
  type WorkerInit,
} from '../wire/messages.js'
import { serializeError, type SerializedError } from '../wire/remote_error.js'
import { findUncloneable } from '../wire/clone_check.js'
import { isTransfer, type Transferable } from '../wire/transfer.js'
import { SerializationError } from '../errors.js'
import { loadTask, type LoadedTask } from './task_loader.js'
import { Deque } from '../internal/deque.js'
import { reviveShareables, type ReviveContext } from '../wire/shareable.js'
import { onBlocking } from '../sync/monitor.js'
import { ProgressSink, withProgress } from './progress_sink.js'

export const COUNTER_STARTED = 0
export const COUNTER_FINISHED = 1
/** Index, within the running chunk as it was sent, of the item started last (0 for a call). */
export const COUNTER_ITEM = 2
/** Bytes of the shared counters. */
export const COUNTERS_BYTES = 12

const FLUSH_AFTER_MS = 1
/**
 * Inside a chunk, values finished this long ago go back with the next flush.
 * Longer than FLUSH_AFTER_MS: a chunk sized to run about a millisecond
 * (map's 'auto') then still costs one message, not two.
 */
const CHUNK_FLUSH_MS = 10
/** Items of a chunk run between two clock reads at most, and the time those reads aim to be apart. */
const MAX_STRIDE = 256
const CHECK_EVERY_MS = 0.05

/** How the runtime talks to its caller. */
export interface RuntimePort {
  post(message: FromWorker, transfer?: Transferable[]): void
  /**
   * Called with the number of tasks started so far, just before each task
   * starts, for backends that cannot share the counters (the process
   * backend records it where the caller can read it after a crash).
   */
  started?(count: number): void
  /** Called with the number of tasks finished so far, just before their results are sent (same purpose). */
  finished?(count: number): void
  /** Called with the index of a chunk's item just before it starts (same purpose). */
  item?(index: number): void
}

/** The values of the running chunk not sent yet; `e` indexes count from the chunk's first item. */
interface ChunkPart {
  v: unknown[]
  e: [index: number, error: SerializedError][] | undefined
  /** When the part was last sent (or the chunk started). */
  at: number
  /** Index of `v[0]` in the chunk. */
  base: number
}

/** Runners running a task while holding finished results (several only with inline executors). */
const holding = new Set<TaskRunner>()
// A task that blocks its thread (a worker's Event.waitSync) sends what is finished first.
onBlocking(() => {
  for (const runner of holding) runner.flush()
})

export class TaskRunner {
  readonly #port: RuntimePort
  readonly #init: WorkerInit
  readonly #counters: Int32Array | null
  readonly #batches = new Deque<unknown[]>()
  #pos = 0
  readonly #decls: ({ module: string; name: string } | undefined)[] = []
  readonly #fns: (LoadedTask | undefined)[] = []
  #results: unknown[] = []
  /** Progress values waiting for the next flush: `g` of a 'done' message. */
  #progress: unknown[] = []
  /** When a progress value last forced a flush (shared by the tasks of this runner: see progress_sink.ts). */
  readonly #progressClock = { last: -Infinity }
  /** The running chunk's values not sent yet, or null when no chunk is running. */
  #part: ChunkPart | null = null
  #started = 0
  #finished = 0
  #transfer: Transferable[] = []
  #busy = 0
  #lastFlush = 0
  #draining = false
  #ready: Promise<boolean> | null = null
  #initOk: boolean | null = null
  #stopRequested = false
  #abandoned = false
  /** The flush armed for when the running task yields to the event loop. */
  #flushOnYield: ReturnType<typeof setImmediate> | undefined
  onStop: (() => void) | null = null

  get #reviveContext(): ReviveContext {
    return { backend: this.#init.backend ?? 'thread' }
  }

  constructor(port: RuntimePort, init: WorkerInit) {
    this.#port = port
    this.#init = init
    this.#counters = init.counters !== null ? new Int32Array(init.counters) : null
  }

  /** Runs the initializer, then says ready (or init-error). Resolves to success. */
  start(): Promise<boolean> {
    this.#ready ??= this.#runInitializer().then((ok) => (this.#initOk = ok))
    return this.#ready
  }

  /** The caller stopped listening (inline backend after a kill): run nothing more. */
  abandon(): void {
    this.#abandoned = true
    holding.delete(this)
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
    holding.delete(this)
    const part = this.#part
    const hasPart = part !== null && part.v.length > 0
    if (this.#results.length === 0 && !hasPart && this.#progress.length === 0) return
    const r = this.#results
    const g = this.#progress.length > 0 ? this.#progress : undefined
    if (g !== undefined) this.#progress = []
    const transfer = this.#transfer
    const b = this.#busy
    this.#results = []
    this.#transfer = []
    this.#busy = 0
    this.#lastFlush = performance.now()
    let p: ChunkOutcome | undefined
    let base = 0
    if (hasPart) {
      p = { v: part.v, e: part.e, d: 0 }
      base = part.base
      part.base += part.v.length
      part.v = []
      part.e = undefined
      part.at = this.#lastFlush
    }
    this.#port.finished?.(this.#finished)
    const message: FromWorker = { t: 'done', r, b }
    if (p !== undefined) message.p = p
    if (g !== undefined) message.g = g
    try {
      this.#port.post(message, transfer)
    } catch {
      if (p !== undefined) {
        for (let i = 0; i < p.v.length; i++) {
          const problem = findUncloneable(p.v[i], 'result', transfer)
          if (problem === null) continue
          p.v[i] = undefined
          ;(p.e ??= []).push([base + i, serializeError(uncloneableResult(problem)) as SerializedError])
        }
      }
      // Some result cannot be cloned: find it, replace it with an error, send the rest.
      for (let i = 0; i < r.length; i += 2) {
        const problem = findUncloneable(r[i + 1], 'result', transfer)
        if (problem !== null) {
          r[i] = STATUS_ERROR
          r[i + 1] = serializeError(uncloneableResult(problem))
        }
      }
      this.#port.post(message, transfer)
    }
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
    const counters = this.#counters
    try {
      for (;;) {
        if (this.#abandoned) return
        const batch = this.#batches.peek()
        if (batch === undefined) break
        if (this.#pos >= batch.length) {
          this.#batches.shift()
          this.#pos = 0
          continue
        }
        const flags = batch[this.#pos] as number
        const kind = flags & KIND_MASK
        const index = batch[this.#pos + 1] as number
        let args = batch[this.#pos + 2] as unknown[]
        batch[this.#pos + 2] = undefined
        this.#pos += 3

        // Flush before a task that might take long, so finished results are not held hostage.
        if (this.#results.length > 0 && performance.now() - this.#lastFlush > FLUSH_AFTER_MS) this.flush()
        // Results still buffered go out if this task waits on the event loop.
        if (this.#results.length > 0) {
          holding.add(this)
          this.#flushOnYield ??= setImmediate(() => {
            this.#flushOnYield = undefined
            this.flush()
          })
        }

        // Count the task as started before its module loads (see the header).
        if (counters !== null) {
          Atomics.store(counters, COUNTER_ITEM, 0)
          Atomics.add(counters, COUNTER_STARTED, 1)
        }
        this.#port.started?.(++this.#started)

        let fn = this.#fns[index]
        if (fn === undefined) {
          const decl = this.#decls[index]
          try {
            if (decl === undefined) throw new Error(`internal: task function #${index} was never declared to this worker`)
            fn = await loadTask(decl.module, decl.name)
            this.#fns[index] = fn
          } catch (error) {
            if (counters !== null) Atomics.add(counters, COUNTER_FINISHED, 1)
            this.#results.push(STATUS_ERROR, serializeError(error))
            this.#finished++
            continue
          }
        }

        if ((flags & FLAG_SHARED) !== 0) {
          try {
            args = (await reviveShareables(args, this.#reviveContext)) as unknown[]
          } catch (error) {
            if (counters !== null) Atomics.add(counters, COUNTER_FINISHED, 1)
            this.#results.push(STATUS_ERROR, serializeError(error))
            this.#finished++
            continue
          }
        }

        // Only a task whose caller listens runs in a progress context (progress_sink.ts).
        const sink = (flags & FLAG_PROGRESS) === 0 ? undefined : new ProgressSink((pairs, now) => this.#addProgress(pairs, now), this.#progressClock)
        const t0 = performance.now()
        if (kind === KIND_CHUNK) {
          // Values are pushed, never written into a preallocated array: a holey
          // array is cloned index by index, a packed one in one dense run.
          const part: ChunkPart = { v: [], e: undefined, at: t0, base: 0 }
          this.#part = part
          const flat = (flags & FLAG_FLAT) !== 0
          const item = this.#port.item
          // The clock is read before an item only every `stride` items: the
          // stride doubles while items are tiny (a clock read would cost as
          // much as the item) and drops to 1 after a slow one.
          let stride = 1
          let countdown = 1
          let lastCheck = t0
          for (let i = 0; i < args.length; i++) {
            if (i > 0) {
              if (counters !== null) Atomics.store(counters, COUNTER_ITEM, i)
              else item?.(i)
              if (--countdown === 0) {
                const now = performance.now()
                if (now - part.at > CHUNK_FLUSH_MS) this.flush()
                stride = now - lastCheck < CHECK_EVERY_MS ? Math.min(stride * 2, MAX_STRIDE) : 1
                countdown = stride
                lastCheck = now
              }
            }
            try {
              let value: unknown
              if (sink === undefined) value = flat ? fn(args[i]) : fn(...(args[i] as unknown[]))
              else {
                sink.item = i
                const itemArgs = args[i]
                value = withProgress(sink, () => (flat ? fn(itemArgs) : fn(...(itemArgs as unknown[]))))
              }
              if (isThenable(value)) value = await value
              part.v.push(this.#unwrapTransfer(value))
            } catch (error) {
              part.v.push(undefined)
              ;(part.e ??= []).push([i, serializeError(error) as SerializedError])
            }
          }
          sink?.close()
          this.#part = null
          // The values not sent with a flush yet; the caller appends them to those it has.
          this.#results.push(STATUS_OK, { v: part.v, e: part.e, d: performance.now() - t0 } satisfies ChunkOutcome)
        } else {
          try {
            const callArgs = args
            let value = sink === undefined ? fn(...args) : withProgress(sink, () => fn(...callArgs))
            if (isThenable(value)) value = await value
            sink?.close()
            this.#results.push(STATUS_OK, this.#unwrapTransfer(value))
          } catch (error) {
            sink?.close()
            this.#results.push(STATUS_ERROR, serializeError(error))
          }
        }
        this.#busy += performance.now() - t0
        this.#finished++
        if (counters !== null) Atomics.add(counters, COUNTER_FINISHED, 1)
      }
      this.flush()
    } finally {
      this.#draining = false
    }
    this.#maybeStop()
  }

  /**
   * Progress values of the running task: they go with the next flush, after
   * the results before them; `now` flushes at once (the sink's interval is
   * over), otherwise they ride with the task's result.
   */
  #addProgress(pairs: unknown[], now: boolean): void {
    this.#progress.push(this.#results.length >> 1, pairs)
    if (now) this.flush()
  }

  #unwrapTransfer(value: unknown): unknown {
    if (!isTransfer(value)) return value
    for (const item of value.transferList) this.#transfer.push(item)
    return value.value
  }

  #maybeStop(): void {
    if (this.#stopRequested && this.#batches.length === 0) {
      this.flush()
      this.onStop?.()
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

function uncloneableResult(problem: { path: string; reason: string }): SerializationError {
  return new SerializationError(`The task's result cannot be sent back to the caller: ${problem.reason}`, {
    argIndex: -1,
    path: problem.path,
    reason: problem.reason,
  })
}

/**
 * What a worker's task runner (runtime.ts) has finished and not sent yet,
 * and when it leaves: results, progress values, values of the running
 * chunk sent ahead, the buffers to move with them, and the time spent.
 *
 *   runner ─ results, progress, chunk values ─▶ buffer ─ flush() ─▶ one 'done' message
 *                                                 ▲
 *     flushSoon(): when the event loop turns, or a task blocks its thread
 *
 * Buffering turns a burst of tiny tasks into one message; the runner says
 * when to flush (before a task that may take long, when it has no task
 * left, when a running task yields). A flush also records, for backends
 * without shared counters, how many tasks finished (the process backend).
 *
 * Results of a runner with lanes carry their tasks' sequence numbers
 * (`k`), the lane time (`l`) and the values its running chunks send ahead
 * (`c`); those of a runner that runs one task at a time are in order, with
 * the running chunk's values in `p` (wire/messages.ts).
 */
import { STATUS_ERROR, type ChunkOutcome, type FromWorker } from '../wire/messages.js'
import { serializeError, type SerializedError } from '../wire/remote_error.js'
import { findUncloneable } from '../wire/clone_check.js'
import { isTransfer, type Transferable } from '../wire/transfer.js'
import { SerializationError } from '../errors.js'
import { packNumbers } from '../internal/pack_numbers.js'
import { onBlocking } from '../sync/monitor.js'
import type { RunningChunk } from './running_chunk.js'

/** How a worker talks to its caller. */
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
  /**
   * The next message that already arrived and was not handled yet, taken
   * now, or undefined when there is none (thread backend). The runner asks
   * before it sends its results: tasks that came in meanwhile run first and
   * their results leave in the same message, so a caller that keeps a few
   * tasks in flight does not fall into one message per task each way.
   */
  poll?(): unknown
}

/** The values of the running chunk (one task at a time) not sent yet; `e` indexes count from the chunk's first item. */
export interface ChunkPart {
  v: unknown[]
  e: [index: number, error: SerializedError][] | undefined
  /** When the part was last sent (or the chunk started). */
  at: number
  /** Index of `v[0]` in the chunk. */
  base: number
  /** The chunk's items came packed: values that are all numbers go back packed too. */
  packed: boolean
}

/** The values of a part as they leave: packed when its items were and they are all numbers. */
export function partValues(part: ChunkPart): ChunkOutcome['v'] {
  return part.packed ? (packNumbers(part.v, 0, part.v.length) ?? part.v) : part.v
}

/** Buffers holding results while a task runs (several only with inline executors). */
const holding = new Set<ResultBuffer>()
// A task that blocks its thread (a worker's Event.waitSync) sends what is finished first.
onBlocking(() => {
  for (const buffer of holding) buffer.flush()
})

export class ResultBuffer {
  /** Flattened results: status, value. */
  results: unknown[] = []
  /** Progress values waiting for the next flush: `g` of a 'done' message. */
  progress: unknown[] = []
  /** Milliseconds the buffered tasks ran (`b`). */
  busy = 0
  /** Tasks finished since the worker started (results sent or buffered). */
  finished = 0
  /** When the buffer was last sent. */
  lastFlush = 0
  /** One task at a time: the running chunk's values not sent yet, or null when no chunk is running. */
  part: ChunkPart | null = null
  /** Lanes: the sequence numbers of the buffered results (`k`). */
  seqs: number[] = []
  /** Lanes: lane time (each call's and item's run) since the last message (`l`). */
  laneMs = 0
  /** Lanes: chunks whose items run. */
  readonly chunks = new Set<RunningChunk>()
  readonly #port: RuntimePort
  readonly #lanes: boolean
  #transfer: Transferable[] = []
  /** The flush armed for when the running task yields to the event loop. */
  #flushOnYield: ReturnType<typeof setImmediate> | undefined

  /** `lanes`: the runner runs several tasks at once (results carry their sequence numbers). */
  constructor(port: RuntimePort, lanes: boolean) {
    this.#port = port
    this.#lanes = lanes
  }

  /** The value to buffer for a task's return value: a `transfer()` wrapper's value, its buffers kept to move. */
  unwrapTransfer(value: unknown): unknown {
    if (!isTransfer(value)) return value
    for (const item of value.transferList) this.#transfer.push(item)
    return value.value
  }

  /** Buffered results go out when the event loop turns, or when the thread blocks in a sync wait. */
  flushSoon(): void {
    holding.add(this)
    this.#flushOnYield ??= setImmediate(() => {
      this.#flushOnYield = undefined
      this.flush()
    })
  }

  /** Nothing more is sent (the runner was abandoned). */
  release(): void {
    holding.delete(this)
    this.chunks.clear()
  }

  /** Sends what is buffered now, as one message (called before the worker exits, too). */
  flush(): void {
    holding.delete(this)
    const part = this.part
    const hasPart = part !== null && part.v.length > 0
    // Lanes: each running chunk's values that ended in a row go ahead.
    let parts: unknown[] | undefined
    let bases: number[] | undefined
    if (this.chunks.size > 0) {
      for (const chunk of this.chunks) {
        const from = chunk.sent
        const ahead = chunk.part()
        if (ahead === null) continue
        ;(parts ??= []).push(chunk.seq, ahead)
        ;(bases ??= []).push(from)
      }
    }
    if (this.results.length === 0 && !hasPart && parts === undefined && this.progress.length === 0) return
    const r = this.results
    const g = this.progress.length > 0 ? this.progress : undefined
    if (g !== undefined) this.progress = []
    const transfer = this.#transfer
    const b = this.busy
    this.results = []
    this.#transfer = []
    this.busy = 0
    this.lastFlush = performance.now()
    let p: ChunkOutcome | undefined
    let base = 0
    if (hasPart) {
      p = { v: partValues(part), e: part.e, d: 0 }
      base = part.base
      part.base += part.v.length
      part.v = []
      part.e = undefined
      part.at = this.lastFlush
    }
    this.#port.finished?.(this.finished)
    const message: FromWorker = { t: 'done', r, b }
    if (this.#lanes) {
      message.k = this.seqs
      message.l = this.laneMs
      this.seqs = []
      this.laneMs = 0
      if (parts !== undefined) message.c = parts
    }
    if (p !== undefined) message.p = p
    if (g !== undefined) message.g = g
    try {
      this.#port.post(message, transfer)
    } catch {
      if (p !== undefined) replaceUncloneable(p, base, transfer)
      if (parts !== undefined) for (let i = 0; i < parts.length; i += 2) replaceUncloneable(parts[i + 1] as ChunkOutcome, bases![i >> 1]!, transfer)
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
}

/** Replaces the values of a part that cannot be cloned by errors; `base`: the chunk's item of `v[0]`. */
function replaceUncloneable(p: ChunkOutcome, base: number, transfer: Transferable[]): void {
  if (!Array.isArray(p.v)) return // packed numbers
  for (let i = 0; i < p.v.length; i++) {
    const problem = findUncloneable(p.v[i], 'result', transfer)
    if (problem === null) continue
    p.v[i] = undefined
    ;(p.e ??= []).push([base + i, serializeError(uncloneableResult(problem)) as SerializedError])
  }
}

function uncloneableResult(problem: { path: string; reason: string }): SerializationError {
  return new SerializationError(`The task's result cannot be sent back to the caller: ${problem.reason}`, {
    argIndex: -1,
    path: problem.path,
    reason: problem.reason,
  })
}

/**
 * Runs cluster tasks inside a worker thread of a NatsWorker, on the task
 * runner every local worker uses (worker/runtime.ts).
 *
 * The worker's local ThreadPoolExecutor calls `runUnits` with units already
 * checked against the allowlist. They go to this thread's own TaskRunner as
 * one 'run' message, each unit's kind word unchanged (it is the word of a
 * local queue entry): the runner loads the module (worker/task_loader.ts),
 * revives shareables, calls, unwraps transfers and runs chunks item by
 * item, and serializes every error where it was thrown. Its results come
 * back as values, so those errors travel to the caller as they are: one
 * hop, nothing of them (class, properties, cause) is rebuilt on the way.
 * A result that cannot be cloned fails the whole call with
 * SerializationError (the thread's own runtime checks it when it sends).
 *
 * Progress. A unit whose caller listens keeps FLAG_PROGRESS, so this
 * thread's runner sends its progress() values here; they go on through
 * the sink of the `runUnits` call itself (the worker listens to it), as
 * `{ u, p }`: which unit of the call, and its item, value pairs.
 * The runner runs outside that call's progress context, so a unit nobody
 * listens to finds no sink, as anywhere else.
 */
import { KIND_CHUNK, KIND_MASK, PROTOCOL_VERSION, STATUS_OK, type ChunkOutcome, type FromWorker, type FunctionDecl } from '../../wire/messages.js'
import { transfer, type Transferable } from '../../wire/transfer.js'
import { TaskRunner } from '../../worker/runtime.js'
import { currentSink, outsideProgress, type ProgressSink } from '../../worker/progress_sink.js'

/** A unit as the worker sends it here: kind word, module, export name, arguments. */
export type UnitCall = [k: number, m: string, n: string, a: unknown[]]

/** A unit's progress() values as the worker hears them: unit index in the call; item, value... */
export interface UnitProgress {
  u: number
  p: unknown[]
}

/** One call of `runUnits` while the runner runs its units. */
interface Run {
  /** The kind word of each unit. */
  kinds: number[]
  /** Flattened: status, value (or ChunkOutcome), ms; three slots per unit. */
  out: unknown[]
  /** The values sent ahead of the chunk that runs next (its outcome holds only the rest). */
  part: ChunkOutcome | null
  moved: Transferable[]
  /** The sink of this `runUnits` call, when the worker listens to its units' progress. */
  sink: ProgressSink | undefined
  done: () => void
}

let run: Run | null = null
/** Runs of `runUnits` wait for the one before: the runner answers in order, one run at a time. */
let last: Promise<unknown> = Promise.resolve()
const indexes = new Map<string, number>()

const runner = new TaskRunner(
  {
    post(message: FromWorker, moved?: Transferable[]) {
      if (run === null) return
      const current = run
      if (message.t !== 'done') return
      if (moved !== undefined) for (const item of moved) current.moved.push(item)
      const r = message.r
      const g = message.g
      if (g !== undefined && current.sink !== undefined) {
        // Progress of the k-th task of this message: unit (results so far + k) of the call.
        const before = current.out.length / 3
        for (let k = 0; k < g.length; k += 2) current.sink.forward({ u: before + (g[k] as number), p: g[k + 1] as unknown[] } satisfies UnitProgress)
      }
      // Tasks finished in this message share its busy time.
      const ms = r.length > 0 ? message.b / (r.length / 2) : 0
      for (let i = 0; i < r.length; i += 2) {
        const status = r[i] as number
        let value = r[i + 1]
        let unitMs = ms
        const part = current.part
        if (part !== null) {
          current.part = null
          if (status === STATUS_OK) value = joined(part, value as ChunkOutcome)
        }
        if (status === STATUS_OK && (current.kinds[current.out.length / 3]! & KIND_MASK) === KIND_CHUNK) {
          const outcome = value as ChunkOutcome
          unitMs = outcome.d / Math.max(1, outcome.v.length)
        }
        current.out.push(status, value, unitMs)
      }
      if (message.p !== undefined) current.part = current.part === null ? message.p : joined(current.part, message.p)
      if (current.out.length === 3 * current.kinds.length) current.done()
    },
  },
  { v: PROTOCOL_VERSION, label: 'nats worker thread', initializer: null, initargs: [], backend: 'nats', counters: null },
)
void runner.start()

function joined(first: ChunkOutcome, rest: ChunkOutcome): ChunkOutcome {
  const e = first.e === undefined ? rest.e : rest.e === undefined ? first.e : [...first.e, ...rest.e]
  return { v: [...first.v, ...rest.v], e, d: rest.d }
}

/**
 * Runs units in order, in this thread. Returns, flattened, a status
 * (STATUS_OK or STATUS_ERROR), a value (a ChunkOutcome for a chunk, the
 * SerializedValue of an error) and the milliseconds it took, per unit.
 */
export function runUnits(units: UnitCall[]): Promise<unknown> {
  const next = last.then(() => runNow(units))
  last = next.catch(() => {})
  return next
}

function runNow(units: UnitCall[]): Promise<unknown> {
  return new Promise((resolve) => {
    const f: FunctionDecl[] = []
    const q: unknown[] = []
    for (const [k, m, n, a] of units) {
      const key = `${m}#${n}`
      let index = indexes.get(key)
      if (index === undefined) {
        index = indexes.size
        indexes.set(key, index)
        f.push([index, m, n])
      }
      q.push(k, index, a)
    }
    const current: Run = {
      kinds: units.map((unit) => unit[0]),
      out: [],
      part: null,
      moved: [],
      sink: currentSink(),
      done: () => {
        run = null
        resolve(current.moved.length > 0 ? transfer(current.out, current.moved) : current.out)
      },
    }
    run = current
    outsideProgress(() => runner.receive({ t: 'run', f: f.length > 0 ? f : undefined, q }))
  })
}

/** Does nothing: the worker runs it once per thread at start, so every thread is up before tasks come. */
export function warmUp(): boolean {
  return true
}

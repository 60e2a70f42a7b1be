/**
 * Every message between a caller and its workers.
 *
 * Batched and flat on purpose: one `run` message carries many tasks and one
 * `done` message many results, so a deep queue costs one postMessage per
 * batch instead of one per task. A worker that runs one task at a time runs
 * them strictly in the order received and answers in that order, so results
 * carry no ids: the caller pairs them with its in-flight list (FIFO). A
 * worker that runs several at once (`concurrency` > 1) still starts them in
 * that order, but answers as they finish, each result with its task's
 * sequence number (`k`), which the caller looks up in the same list.
 */
import type { SerializedError } from './remote_error.js'

/** Bumped whenever a message changes shape; caller and worker must agree. */
export const PROTOCOL_VERSION = 2

/** A single call: args is the argument list. */
export const KIND_CALL = 0
/** A chunk of calls (map/imap): args is a list of argument lists. */
export const KIND_CHUNK = 1
export type TaskKind = typeof KIND_CALL | typeof KIND_CHUNK
/** Or-ed into the kind when the arguments hold share descriptors to revive (wire/shareable.ts). */
export const FLAG_SHARED = 2
/**
 * Or-ed into KIND_CHUNK when each item is the single argument of its call
 * (`map` of one iterable): args is the flat list of items, with no array per
 * item, which structured clone copies in one dense run.
 */
export const FLAG_FLAT = 4
/**
 * Or-ed into the kind when the caller listens to the task's `progress()`
 * calls (task.ts): only then does the worker run it in a progress context
 * and send its values (`g` of a 'done' message).
 */
export const FLAG_PROGRESS = 8
export const KIND_MASK = 1

/** Result statuses. */
export const STATUS_OK = 0
export const STATUS_ERROR = 1

/** Declares a task function to a worker once; later tasks name it by index. */
export type FunctionDecl = [index: number, module: string, name: string]

/** What the worker needs to know at startup (workerData / first message). */
export interface WorkerInit {
  v: number
  /** A human label: "thread worker 3". */
  label: string
  /** Optional initializer, run once before any task. */
  initializer: { module: string; name: string } | null
  initargs: unknown[]
  /** `initargs` hold share descriptors to revive (a Lock passed to every worker, say). */
  initargsShared?: boolean
  /** The backend's name, for revivers of shared objects. */
  backend?: string
  /**
   * Shared progress counters (thread backend): [0] tasks started, [1] tasks
   * finished, both counted since the worker started, [2] the item of the
   * running chunk. They tell the caller exactly which task (and item) was
   * running when a worker died.
   */
  counters: SharedArrayBuffer | null
  /**
   * Tasks (and items of chunks) the worker runs at once at most: the
   * executor's `concurrentTasksPerWorker`. Absent: 1, one at a time,
   * results in order.
   */
  concurrency?: number
}

export type ToWorker =
  | {
      t: 'run'
      /** Functions this worker has not seen yet. */
      f: FunctionDecl[] | undefined
      /** Flattened tasks: kind, function index, args; three slots per task. */
      q: unknown[]
    }
  | { t: 'stop' }

/**
 * A chunk's outcome: a value per item, errors at the indexes that failed.
 * The values of a chunk whose items came packed (internal/pack_numbers.ts)
 * come back packed too when they are all numbers.
 */
export interface ChunkOutcome {
  v: unknown[] | Int32Array | Float64Array
  e: [index: number, error: SerializedError][] | undefined
  /** Milliseconds the chunk took (map sizes its next chunks from this). */
  d: number
}

export type FromWorker =
  | { t: 'ready' }
  | { t: 'init-error'; e: SerializedError }
  | {
      t: 'done'
      /** Flattened results in task order: status, value; two slots per task. */
      r: unknown[]
      /** Milliseconds spent running these tasks (for the caller's batch sizing). */
      b: number
      /**
       * Concurrent workers only: the sequence number of each result of `r`
       * (its task's place among the tasks the worker received, from 0), as
       * results come in the order they finished. Its presence also changes
       * the keys of `g` and replaces `p` by `c`.
       */
      k?: number[]
      /**
       * Values so far of the chunk that runs next (after the tasks of `r`):
       * they belong to its items from where its last part ended; the chunk's
       * own outcome later holds only the rest. `e` indexes count from the
       * chunk's first item as it was sent.
       */
      p?: ChunkOutcome
      /**
       * Concurrent workers: what `p` is for one chunk, for each running chunk
       * that has values to send, flattened in pairs: sequence number, part.
       * A part holds the values of items that finished in a row from where
       * its chunk's last part ended (an item that finished after a slower
       * one before it waits for it).
       */
      c?: unknown[]
      /**
       * Concurrent workers: milliseconds of lane time since the previous
       * message (each call's and each chunk item's run, summed), for the
       * worker's busy share; `b` stays the tasks' own run times.
       */
      l?: number
      /**
       * Progress values, flattened in pairs: `k`, then the task's values
       * (themselves flattened: item, value, ... where item is a chunk's item
       * as sent, 0 for a call). `k` is the task's position among the results
       * of `r`: its values come before its result; `k` equal to the number
       * of results means the task still running (the head once `r` is
       * settled). On a concurrent worker (`k` of the message present) `k`
       * is the task's sequence number instead, and the caller hears every
       * value before it settles the results. They ride with results, so a
       * burst of tasks that each report costs no message more.
       */
      g?: unknown[]
    }
  | { t: 'fatal'; e: SerializedError }

/**
 * The cluster protocol: what callers and workers say to each other over NATS.
 *
 *   caller ──JetStream {prefix}.task.{session}──▶ work-queue stream ──pull──▶ worker
 *   caller ◀──request {prefix}.s.{session} (results, ping)── worker   (the caller's reply confirms)
 *   caller ◀──publish {prefix}.s.{session} (progress)── worker       (best effort, in order per task)
 *   caller ──core {prefix}.direct──▶ one idle worker   (a task sent when nothing else is in flight; direct_delivery.ts)
 *   caller ◀──publish {prefix}.s.{session} (working, back)── the worker that took it; {prefix}.s.{session}.d.{id}: busy
 *   caller ──core {prefix}.cancel──▶ every worker
 *   worker ──core {prefix}.ackwait──▶ every worker   (it is about to lower the consumer's ack_wait)
 *
 * Every payload is a serialized object (wire/serializer.ts) with a protocol version `v`, so a
 * caller and a worker of different versions refuse each other clearly
 * instead of misreading. One task message carries a batch of tasks (a burst
 * of submits travels as one JetStream message); a worker acks the message
 * only after the caller confirmed every result in it, so a result is never
 * lost between the two, and a redelivered task that already reported is
 * de-duplicated by the caller (it knows each task id once).
 *
 * A task or a result too large for one message (the server's max_payload)
 * travels as an object of the JetStream Object Store (object_payload.ts):
 * the message carries the object's name instead of the bytes.
 */
import { toBytes, fromBytes } from '../../wire/serializer.js'

/** Bumped whenever a cluster message changes shape. */
export const NATS_PROTOCOL_VERSION = 3

/** Room left in a message for headers and framing: a message carries at most the server's max_payload less this. */
export const MESSAGE_HEADROOM = 4096

/** What one message may carry on the connection `nc`: the server's max_payload (1 MiB by default) less the headroom. */
export function messageRoom(nc: { info?: { max_payload: number } }): number {
  return (nc.info?.max_payload ?? 1024 * 1024) - MESSAGE_HEADROOM
}

/**
 * A result status of the cluster alone (beside STATUS_OK and STATUS_ERROR of
 * wire/messages.ts): the value is the name of the object that holds the
 * result, as the encoded results message of that one task.
 */
export const STATUS_STORED = 2

/**
 * One task inside a task message. Its kind word `k` is the one a local
 * worker's 'run' queue entry carries (wire/messages.ts): KIND_CALL or
 * KIND_CHUNK, or-ed with FLAG_SHARED (the arguments hold share
 * descriptors) and FLAG_FLAT (a chunk whose `a` is the items themselves,
 * each the single argument of its call), so a worker hands it to its task
 * runner unchanged.
 */
export interface TaskUnit {
  /** Task id, unique per caller session. */
  id: string
  k: number
  /** Module URL (or library id) and export name. */
  m: string
  n: string
  /** Arguments (a call), a list of argument lists (a chunk), or the items (a flat chunk). */
  a: unknown[]
  /** Runs of the task again if its local worker thread crashes. */
  r: number
  /** Deliveries the task had outside the stream (a direct delivery whose worker went silent or gave it back), counted toward its poison limit; absent: none. */
  d?: number
  /** The run number of a task its caller sends again because it threw an error `retryOn` names (2 for the first run again); absent on a first run. */
  t?: number
  /**
   * The task was too large for one message: the name of the object that
   * holds its encoded task message (this unit in full); `a` is then empty.
   */
  o?: string
}

/** A JetStream message: a batch of tasks of one caller session. */
export interface TaskMessage {
  v: number
  /** The caller's session id; results go to `{prefix}.s.{session}`. */
  s: string
  q: TaskUnit[]
}

/** Worker → caller, as a request the caller answers (`ok`). */
export type ToCaller =
  | {
      v: number
      t: 'results'
      /** Who ran them: `nats worker host:pid`. */
      w: string
      /**
       * Flattened, four slots per task: id, status (STATUS_OK, STATUS_ERROR,
       * STATUS_STORED), value (the value, a ChunkOutcome for a chunk, the
       * SerializedValue of the error, or the name of the object that holds
       * the result), ms.
       */
      r: unknown[]
    }
  | { v: number; t: 'ping' }
  /** A running task's progress() values, item, value... (published, not a request: nothing waits for it). */
  | { v: number; t: 'progress'; id: string; p: unknown[] }
  /** Tasks taken directly that still run, with the ack wait `w` (ms) the worker beats against (published each quarter of it). */
  | { v: number; t: 'working'; ids: string[]; w: number }
  /** Tasks taken directly that the worker gives up (it stops): the caller publishes them to the stream. */
  | { v: number; t: 'back'; ids: string[] }

/** Caller → workers (broadcast): stop these tasks, or every task of the session. */
export interface CancelMessage {
  v: number
  s: string
  ids: string[]
  /** The caller is gone or terminated: drop all of its tasks. */
  all: boolean
}

/**
 * Worker → workers (broadcast): the shared consumer's ack_wait becomes `ms`.
 * Sent before a worker lowers it, so that the others heartbeat often enough
 * before JetStream applies the new value (task_consumer.ts).
 */
export interface AckWaitNotice {
  v: number
  ms: number
}

/** A cluster message as bytes (wire/serializer.ts, like every byte channel). */
export function encode(value: unknown): Uint8Array {
  return toBytes(value)
}

export function decode<T>(data: Uint8Array): T {
  return fromBytes<T>(data)
}

/** The subjects and names used under one prefix. */
export interface Names {
  prefix: string
  stream: string
  consumer: string
  taskSubject(session: string): string
  taskWildcard: string
  sessionSubject(session: string): string
  cancelSubject: string
  ackWaitSubject: string
  /** Where a caller asks an idle worker to take a task directly (workers listen as one queue group). */
  directSubject: string
  /** The Object Store bucket of the payloads too large for a message. */
  payloadBucket: string
}

export function names(prefix: string, stream: string): Names {
  return {
    prefix,
    stream,
    consumer: `${stream}_workers`,
    taskSubject: (session) => `${prefix}.task.${session}`,
    taskWildcard: `${prefix}.task.>`,
    sessionSubject: (session) => `${prefix}.s.${session}`,
    cancelSubject: `${prefix}.cancel`,
    ackWaitSubject: `${prefix}.ackwait`,
    directSubject: `${prefix}.direct`,
    payloadBucket: `${prefix}_payloads`,
  }
}

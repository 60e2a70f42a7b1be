/**
 * The cluster protocol: what callers and workers say to each other over NATS.
 *
 *   caller ──JetStream {prefix}.task.{session}──▶ work-queue stream ──pull──▶ worker
 *   caller ◀──request {prefix}.s.{session} (results, ping)── worker   (the caller's reply confirms)
 *   caller ──core {prefix}.cancel──▶ every worker
 *
 * Every payload is a V8-serialized object with a protocol version `v`, so a
 * caller and a worker of different versions refuse each other clearly
 * instead of misreading. One task message carries a batch of tasks (a burst
 * of submits travels as one JetStream message); a worker acks the message
 * only after the caller confirmed every result in it, so a result is never
 * lost between the two, and a redelivered task that already reported is
 * de-duplicated by the caller (it knows each task id once).
 */
import { serialize, deserialize } from 'node:v8'
import type { SerializedValue } from '../../wire/remote_error.js'

/** Bumped whenever a cluster message changes shape. */
export const NATS_PROTOCOL_VERSION = 1

export const UNIT_CALL = 0
export const UNIT_CHUNK = 1

/** One task inside a task message. */
export interface TaskUnit {
  /** Task id, unique per caller session. */
  id: string
  /** UNIT_CALL or UNIT_CHUNK. */
  k: number
  /** Module URL and export name. */
  m: string
  n: string
  /** Arguments (a call) or a list of argument lists (a chunk). */
  a: unknown[]
  /** Arguments hold share descriptors. */
  sh: boolean
  /** Runs of the task again if its local worker thread crashes. */
  r: number
}

/** A JetStream message: a batch of tasks of one caller session. */
export interface TaskMessage {
  v: number
  /** The caller's session id; results go to `{prefix}.s.{session}`. */
  s: string
  q: TaskUnit[]
}

export const RESULT_OK = 0
export const RESULT_ERROR = 1

/** The outcome of a chunk: a value per item, serialized errors where items threw. */
export interface ChunkWireOutcome {
  v: unknown[]
  e: [index: number, error: SerializedValue][] | undefined
  d: number
}

/** Worker → caller, as a request the caller answers (`ok`). */
export type ToCaller =
  | {
      v: number
      t: 'results'
      /** Who ran them: `nats worker host:pid`. */
      w: string
      /** Flattened: id, status, value (RESULT_OK: the value or a ChunkWireOutcome; RESULT_ERROR: SerializedValue), ms. */
      r: unknown[]
    }
  | { v: number; t: 'ping' }

/** Caller → workers (broadcast): stop these tasks, or every task of the session. */
export interface CancelMessage {
  v: number
  s: string
  ids: string[]
  /** The caller is gone or terminated: drop all of its tasks. */
  all: boolean
}

export function encode(value: unknown): Uint8Array {
  return serialize(value)
}

export function decode<T>(data: Uint8Array): T {
  return deserialize(data) as T
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
  }
}

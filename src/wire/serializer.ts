/**
 * The one place values become bytes and back, for the channels that carry
 * bytes rather than objects: a Queue's shared ring, a socket Connection, the
 * cluster's NATS messages. It is V8's structured serialization, the same
 * algorithm postMessage uses between threads, so a value that reaches a
 * thread worker reaches a process or a cluster worker alike.
 */
import { deserialize, serialize } from 'node:v8'

/** A value as bytes. Throws (DataCloneError) for what structured clone refuses. */
export function toBytes(value: unknown): Buffer {
  return serialize(value)
}

/** The value `toBytes` encoded. */
export function fromBytes<T = unknown>(bytes: Uint8Array): T {
  return deserialize(bytes) as T
}

/**
 * Payloads too large for one NATS message. A task message or a result over
 * the server's max_payload (less the headroom, protocol.ts) is stored as an
 * object of the JetStream Object Store (`@nats-io/obj`, loaded on the first
 * such payload), chunked by the store; the message carries the object's name
 * instead (a unit's `o`, a result's STATUS_STORED).
 *
 *   caller ─put {session}.{id}.task─▶ bucket {prefix}_payloads ◀─get─ worker (each delivery of the task)
 *   worker ─put {session}.{id}.result.{n}─▶ bucket ◀─get─ caller ─▶ settles, deletes both
 *
 * Who deletes what, and when:
 * - a task's object: its caller, once the task's Future settled. Not when a
 *   worker has read it: JetStream delivers the task again when its worker
 *   dies or hangs, and the next worker reads it too.
 * - a result's object: its caller, once read. Every run of a task stores its
 *   result under a name of its own, so when a task that ran twice (its first
 *   worker was thought dead) sends two results, the caller reads one and
 *   deletes the other: a duplicate never deletes the object being read, and
 *   a result request sent again names the same object, which is read once.
 * - a result whose caller is gone: the worker that stored it.
 * The bucket's max_age (24 h) removes what nobody could delete (a caller
 * killed before it settled its tasks); `nats stream edit OBJ_<bucket>
 * --max-age` changes it, this code creates the bucket only when missing.
 *
 * Integrity: the store records a SHA-256 digest of each object, and the
 * client's get() hashes the chunks as they arrive and fails the read when
 * the digests differ (`@nats-io/obj` 3.3.1, objectstore.js; a test appends a
 * chunk to a stored object and sees the read fail); a read here also checks
 * the byte count against the recorded size. Every network wait is bounded:
 * each chunk's publish by its timeout (a put is retried through a reconnect
 * up to its own timeout), a read by a stall timeout between chunks.
 */
import { randomBytes } from 'node:crypto'
import { ClusterError, MultiprocError, PayloadTooLargeError } from '../../errors.js'
import { loadNats, loadObjectStore, retrying, type NatsConnection, type ObjectStoreModule } from './nats_client.js'
import { decode, messageRoom, type TaskMessage, type TaskUnit } from './protocol.js'

/** How long an object is kept at most: the bucket's max_age. */
export const PAYLOAD_MAX_AGE_MS = 24 * 3_600_000
/** The default `maxPayloadSize` of callers and workers: 1 GiB. */
export const DEFAULT_MAX_PAYLOAD_SIZE = 1024 ** 3
/** Chunks of 1 MiB at most (the server's max_payload may be up to 64 MiB): fewer round trips than the client's 128 KiB. */
const MAX_CHUNK = 1024 * 1024
/** A read fails when no chunk arrives for this long. */
const STALL_MS = 30_000
/** How long `settled()` waits for deletes under way. */
const DELETE_WAIT_MS = 5_000

type ObjectStore = import('@nats-io/obj').ObjectStore
type JetStreamManager = import('@nats-io/jetstream').JetStreamManager

/** How the limits are named in errors: the caller's (arguments sent, results read), the worker's (results sent, arguments read). */
export const CALLER_LIMIT = 'the `maxPayloadSize` option of NatsExecutor'
export const WORKER_LIMIT = "the worker's `maxPayloadSize` (multiproc worker --max-payload-size)"

/**
 * The error of a task whose arguments (`path` 'args') or result is over
 * `limit` bytes; `option` names the setting that raises it. `task` is its
 * label where known (a worker's error reaches the caller with the task's
 * label in its stack).
 */
export function payloadTooLarge(path: 'args' | 'result', task: string | null, size: number, limit: number, option: string): PayloadTooLargeError {
  const subject = path === 'args' ? 'arguments' : 'result'
  const what = task === null ? `The task's ${subject}` : `The ${subject} of task ${task}`
  const mb = (size / 1024 ** 2).toFixed(1)
  return new PayloadTooLargeError(
    `${what} ${path === 'args' ? 'are' : 'is'} ${mb} MiB encoded (${size} bytes), over the limit of ${limit} bytes: raise ${option}, or pass a reference to the data (a path, a URL) instead`,
    { argIndex: -1, path, reason: `${size} bytes, over the limit of ${limit}`, size, limit, option },
  )
}

/** Payload objects in the bucket of one prefix, over the connection `connection()` returns. */
export class ObjectPayloads {
  /** The bucket's name (its stream is `OBJ_<bucket>`). */
  readonly bucket: string
  readonly #connection: () => NatsConnection
  #opened: Promise<{ store: ObjectStore; module: ObjectStoreModule; jsm: JetStreamManager }> | null = null
  readonly #deleting = new Set<Promise<void>>()

  constructor(connection: () => NatsConnection, bucket: string) {
    this.#connection = connection
    this.bucket = bucket
  }

  /** The name of the object that holds task `id` of `session`. */
  static taskName(session: string, id: string): string {
    return `${session}.${id}.task`
  }

  /** A new name for an object that holds a result of task `id` of `session`: each run of the task stores under its own. */
  static resultName(session: string, id: string): string {
    return `${session}.${id}.result.${randomBytes(6).toString('base64url')}`
  }

  /** Stores `data` as object `name`, trying again through a reconnect until `timeout` ms have passed. Rejects with ClusterError. */
  async put(name: string, data: Uint8Array, timeout: number): Promise<void> {
    const { store } = await this.#open()
    const nc = this.#connection()
    const meta = { name, options: { max_chunk_size: Math.min(MAX_CHUNK, messageRoom(nc)) } }
    try {
      // A put that failed has removed its chunks; one that succeeded after an earlier
      // attempt under the same name replaced it.
      await retrying(nc, timeout, () => store.putBlob(meta, data, { timeout: Math.min(5_000, timeout) }))
    } catch (error) {
      throw new ClusterError(`Cannot store ${data.length} bytes in object store bucket ${this.bucket}: ${(error as Error)?.message ?? error}`, { cause: error })
    }
  }

  /**
   * The bytes of object `name`, or null when there is none (deleted, or
   * expired). `check` sees the object's size before anything is read, and
   * throws to refuse it; an aborted `signal` stops the read. Rejects with
   * ClusterError when the object is corrupt (its digest or its size does
   * not match) or no chunk came for 30 s.
   */
  async get(name: string, check?: (size: number) => void, signal?: AbortSignal): Promise<Uint8Array | null> {
    const { store } = await this.#open()
    const result = await store.get(name).catch((error: unknown) => {
      throw new ClusterError(`Cannot read object ${name} of bucket ${this.bucket}: ${(error as Error)?.message ?? error}`, { cause: error })
    })
    if (result === null) return null
    // A failure there also fails the stream, which is what is read below.
    result.error.catch(() => {})
    const reader = result.data.getReader()
    const stop = (): void => void reader.cancel().catch(() => {})
    signal?.addEventListener('abort', stop, { once: true })
    try {
      check?.(result.info.size)
      signal?.throwIfAborted()
      const out = new Uint8Array(result.info.size)
      let at = 0
      for (;;) {
        const { done, value } = await stalled(reader.read())
        if (done) break
        if (at + value.length > out.length) throw new Error(`it holds more than its recorded size of ${out.length} bytes`)
        out.set(value, at)
        at += value.length
      }
      signal?.throwIfAborted()
      if (at !== out.length) throw new Error(`it holds ${at} bytes, its recorded size is ${out.length}`)
      return out
    } catch (error) {
      stop()
      if (error instanceof MultiprocError || signal?.aborted) throw error
      throw new ClusterError(`Cannot read object ${name} of bucket ${this.bucket}: ${(error as Error)?.message ?? error}`, { cause: error })
    } finally {
      signal?.removeEventListener('abort', stop)
    }
  }

  /**
   * The unit of a task that travelled as an object (`stub.o`) for `session`,
   * read by a worker that takes none over `limit` bytes. Rejects with
   * PayloadTooLargeError over it, with ClusterError when the object is gone
   * (the task settled and its caller deleted it, or it expired) or unreadable.
   */
  async task(session: string, stub: TaskUnit, label: string, limit: number, signal: AbortSignal): Promise<TaskUnit> {
    const check = (size: number): void => {
      if (size > limit) throw payloadTooLarge('args', label, size, limit, WORKER_LIMIT)
    }
    const bytes = await this.get(stub.o!, check, signal)
    if (bytes === null) {
      throw new ClusterError(
        `The arguments of task ${label} are no longer in object store bucket ${this.bucket}: its caller deleted them once the task settled, or they expired (the bucket's max_age)`,
      )
    }
    const message = decode<TaskMessage>(bytes)
    const unit = message.q?.[0]
    if (message.s !== session || unit?.id !== stub.id) throw new ClusterError(`Object ${stub.o} of bucket ${this.bucket} does not hold task ${label}`)
    return unit
  }

  /** Deletes object `name` in the background. Never fails: the bucket's max_age removes what this misses. */
  delete(name: string): void {
    const done = (async () => {
      const { store, module, jsm } = await this.#open()
      await store.delete(name)
      // The client keeps a marker of the deleted object (its meta message) until max_age;
      // names are never used twice here, so it goes too and the bucket is left empty.
      await jsm.streams.purge(`OBJ_${this.bucket}`, { filter: `$O.${this.bucket}.M.${module.Base64UrlPaddedCodec.encode(name)}` })
    })().catch(() => {})
    this.#deleting.add(done)
    void done.then(() => this.#deleting.delete(done))
  }

  /** Resolves once the deletes under way are done, or after 5 s (before the connection closes). */
  async settled(): Promise<void> {
    if (this.#deleting.size === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(this.#deleting), new Promise((r) => (timer = setTimeout(r, DELETE_WAIT_MS)))])
    clearTimeout(timer)
  }

  /** Opens the bucket (creating it when missing) once. */
  #open(): Promise<{ store: ObjectStore; module: ObjectStoreModule; jsm: JetStreamManager }> {
    if (this.#opened !== null) return this.#opened
    const opened = (async () => {
      const module = await loadObjectStore()
      const { js } = await loadNats()
      const nc = this.#connection()
      try {
        const store = await new module.Objm(nc).create(this.bucket, { ttl: PAYLOAD_MAX_AGE_MS * 1_000_000, storage: js.StorageType.File })
        return { store, module, jsm: await js.jetstreamManager(nc, { checkAPI: false }) }
      } catch (error) {
        throw new ClusterError(`Cannot open object store bucket ${this.bucket}: ${(error as Error)?.message ?? error}. Is the server started with JetStream (-js)?`, { cause: error })
      }
    })()
    // A failure is not kept: the next payload tries again.
    opened.catch(() => {
      if (this.#opened === opened) this.#opened = null
    })
    this.#opened = opened
    return opened
  }
}

/** `read`, or a ClusterError once no chunk came for STALL_MS. */
function stalled<T>(read: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterError(`No data for ${STALL_MS / 1000} s while reading a payload object`)), STALL_MS)
  })
  return Promise.race([read, stall]).finally(() => clearTimeout(timer))
}

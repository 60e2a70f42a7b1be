/**
 * Results on their way back to their callers.
 *
 * Results of one session finished in the same turn of the event loop go as
 * one request to its session subject; a batch larger than the server's
 * max_payload goes result by result. A result that alone is larger is
 * stored in the Object Store first, and its request names the object
 * (object_payload.ts); one over `maxPayloadSize`, or that cannot be
 * serialized, is replaced by its SerializationError. The caller's answer
 * confirms the results: only then is each task finished (its message acked
 * once all its tasks are). An unanswered request is sent again while the
 * session may still answer (session_liveness.ts); the stored results of a
 * caller found gone are deleted here.
 *
 * Progress values of running tasks go at once, as plain publishes: nothing
 * waits for them, and one that cannot go (larger than max_payload) is
 * dropped with a log line, never turned into the task's failure.
 */
import { SerializationError } from '../../errors.js'
import { STATUS_ERROR } from '../../wire/messages.js'
import { serializeError } from '../../wire/remote_error.js'
import type { NatsConnection } from './nats_client.js'
import type { HeldMessage } from './held_message.js'
import type { SessionLiveness } from './session_liveness.js'
import { ObjectPayloads, WORKER_LIMIT, payloadTooLarge } from './object_payload.js'
import { NATS_PROTOCOL_VERSION, STATUS_STORED, encode, messageRoom, type ToCaller } from './protocol.js'

const RETRY_MS = 500
/** How long storing a result may take, retries through a reconnect included. */
const STORE_TIMEOUT_MS = 30_000

export interface ResultOutboxOptions {
  connection(): NatsConnection
  sessionSubject(session: string): string
  /** Who ran the tasks: `nats worker host:pid`. */
  label: string
  liveness: SessionLiveness
  /** The caller confirmed the result of task `id` (or it needs none): the task is done. */
  onFinished(held: HeldMessage, id: string): void
  /** The caller is gone (its tasks are dropped) or unreachable (they go back to the stream). */
  onLost(session: string, gone: boolean): void
  /** Where results too large for a message go. */
  payloads: ObjectPayloads
  /** The largest result sent, encoded, in bytes. */
  maxPayloadSize: number
  log(line: string): void
  trace: boolean
}

interface Outbox {
  /** Flattened: id, status, value, ms. */
  r: unknown[]
  /** The held message of each result. */
  held: HeldMessage[]
  scheduled: boolean
}

export class ResultOutbox {
  readonly #options: ResultOutboxOptions
  readonly #outboxes = new Map<string, Outbox>()

  constructor(options: ResultOutboxOptions) {
    this.#options = options
  }

  /** Queues the result of task `id` of `held`: a value (STATUS_OK) or a SerializedValue (STATUS_ERROR). */
  add(held: HeldMessage, id: string, status: number, value: unknown, ms: number): void {
    if (held.dead || !held.open.has(id)) {
      this.#options.onFinished(held, id)
      return
    }
    const outbox = this.#outbox(held.session)
    outbox.r.push(id, status, value, ms)
    outbox.held.push(held)
    this.#schedule(held.session, outbox)
  }

  /** Sends progress() values of running task `id` of `held` (flattened: a chunk's item, value...). */
  progress(held: HeldMessage, id: string, pairs: unknown[]): void {
    if (held.dead || !held.open.has(id)) return
    const nc = this.#options.connection()
    const max = messageRoom(nc)
    try {
      const data = encode({ v: NATS_PROTOCOL_VERSION, t: 'progress', id, p: pairs } satisfies ToCaller)
      if (data.length > max) throw new Error(`${data.length} bytes, more than the server's max_payload`)
      nc.publish(this.#options.sessionSubject(held.session), data)
    } catch (error) {
      this.#options.log(`a progress value of task ${held.session}/${id} was dropped: ${(error as Error)?.message ?? error}`)
    }
  }

  /** Drops what waits for `session` (its caller is gone or unreachable). */
  drop(session: string): void {
    const outbox = this.#outboxes.get(session)
    if (outbox === undefined) return
    this.#outboxes.delete(session)
    this.#discard(outbox.r, 0, outbox.r.length)
  }

  #outbox(session: string): Outbox {
    let outbox = this.#outboxes.get(session)
    if (outbox === undefined) {
      outbox = { r: [], held: [], scheduled: false }
      this.#outboxes.set(session, outbox)
    }
    return outbox
  }

  #schedule(session: string, outbox: Outbox): void {
    if (outbox.scheduled) return
    outbox.scheduled = true
    setImmediate(() => this.#flush(session, outbox))
  }

  #flush(sessionId: string, outbox: Outbox): void {
    outbox.scheduled = false
    // Dropped meanwhile: nobody waits for these.
    if (this.#outboxes.get(sessionId) !== outbox || outbox.r.length === 0) return
    const r = outbox.r
    const helds = outbox.held
    outbox.r = []
    outbox.held = []
    const room = messageRoom(this.#options.connection())
    const whole = this.#encode(r)
    if (whole instanceof Uint8Array && whole.length <= room) {
      this.#send(sessionId, whole, r, helds)
      return
    }
    // One result alone was encoded already: its bytes go on as they are.
    if (r.length === 4) this.#sendOne(sessionId, r, whole, helds[0]!)
    else for (let i = 0; i < r.length; i += 4) this.#sendOne(sessionId, r.slice(i, i + 4), this.#encode(r.slice(i, i + 4)), helds[i / 4]!)
  }

  /** The results message of `r`, or the error that kept it from being encoded. */
  #encode(r: unknown[]): Uint8Array | Error {
    try {
      return encode({ v: NATS_PROTOCOL_VERSION, t: 'results', w: this.#options.label, r } satisfies ToCaller)
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error))
    }
  }

  /** Sends one result, `data` its results message: as it is, stored in the Object Store, or replaced by the error that keeps it from going. */
  #sendOne(sessionId: string, one: unknown[], data: Uint8Array | Error, held: HeldMessage): void {
    const { maxPayloadSize, payloads } = this.#options
    if (data instanceof Error) {
      const reason = data.message
      this.#sendError(sessionId, one, new SerializationError(`The task's result cannot be sent back to the caller: ${reason}`, { argIndex: -1, path: 'result', reason }, { cause: data }), held)
    } else if (data.length > maxPayloadSize) {
      this.#sendError(sessionId, one, payloadTooLarge('result', null, data.length, maxPayloadSize, WORKER_LIMIT), held)
    } else if (data.length <= messageRoom(this.#options.connection())) {
      this.#send(sessionId, data, one, [held])
    } else {
      const id = one[0] as string
      const name = ObjectPayloads.resultName(sessionId, id)
      payloads.put(name, data, STORE_TIMEOUT_MS).then(
        () => {
          if (held.dead) {
            payloads.delete(name)
            this.#options.onFinished(held, id)
            return
          }
          const stored = [id, STATUS_STORED, name, one[3]]
          this.#send(sessionId, this.#encode(stored) as Uint8Array, stored, [held])
        },
        (error: unknown) => this.#sendError(sessionId, one, error as Error, held),
      )
    }
  }

  /** Sends `error` as the result of `one` (flattened: id, status, value, ms). */
  #sendError(sessionId: string, one: unknown[], error: Error, held: HeldMessage): void {
    const failed = [one[0], STATUS_ERROR, serializeError(error), one[3]]
    this.#send(sessionId, this.#encode(failed) as Uint8Array, failed, [held])
  }

  /** Deletes the stored results among the results `r[from..to)` (flattened), which nobody will read. */
  #discard(r: unknown[], from: number, to: number): void {
    for (let i = from; i < to; i += 4) if (r[i + 1] === STATUS_STORED) this.#options.payloads.delete(r[i + 2] as string)
  }

  #send(sessionId: string, data: Uint8Array, r: unknown[], helds: HeldMessage[]): void {
    const { liveness } = this.#options
    this.#options
      .connection()
      .request(this.#options.sessionSubject(sessionId), data, { timeout: 5_000 })
      .then(
        () => {
          liveness.answered(sessionId)
          for (let j = 0; j < helds.length; j++) this.#options.onFinished(helds[j]!, r[4 * j] as string)
        },
        (error: unknown) => {
          if (this.#options.trace) this.#options.log(`results to ${sessionId} failed: ${(error as Error)?.message}`)
          // Unreachable for now (server restarting, caller busy): try again, within the session
          // timeout; no responder at all means the caller is gone, after a short grace.
          const verdict = liveness.unanswered(sessionId, error)
          if (verdict === 'gone') {
            this.#discard(r, 0, r.length)
            this.#options.onLost(sessionId, true)
            return
          }
          if (verdict === 'unreachable') {
            this.#options.log(`caller ${sessionId} unreachable for ${liveness.sessionTimeout} ms; its tasks go back to the stream`)
            this.#options.onLost(sessionId, false)
            return
          }
          setTimeout(() => {
            const outbox = this.#outbox(sessionId)
            for (let j = 0; j < helds.length; j++) {
              const held = helds[j]!
              if (held.dead) {
                this.#discard(r, 4 * j, 4 * j + 4)
                continue
              }
              outbox.r.push(...r.slice(4 * j, 4 * j + 4))
              outbox.held.push(held)
            }
            if (outbox.r.length > 0) this.#schedule(sessionId, outbox)
          }, RETRY_MS).unref()
        },
      )
  }
}

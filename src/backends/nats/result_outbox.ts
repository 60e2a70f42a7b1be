/**
 * Results on their way back to their callers.
 *
 * Results of one session finished in the same turn of the event loop go as
 * one request to its session subject; a batch larger than the server's
 * max_payload goes result by result, and a result that alone is too large
 * (or cannot be serialized) is replaced by its SerializationError. The
 * caller's answer confirms the results: only then is each task finished
 * (its message acked once all its tasks are). An unanswered request is sent
 * again while the session may still answer (session_liveness.ts).
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
import { NATS_PROTOCOL_VERSION, encode, type ToCaller } from './protocol.js'

const RETRY_MS = 500

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
    const max = (nc.info?.max_payload ?? 1024 * 1024) - 4096
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
    this.#outboxes.delete(session)
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
    const nc = this.#options.connection()
    const max = (nc.info?.max_payload ?? 1024 * 1024) - 4096
    const encodeBatch = (rs: unknown[]): Uint8Array | null => {
      try {
        const data = encode({ v: NATS_PROTOCOL_VERSION, t: 'results', w: this.#options.label, r: rs } satisfies ToCaller)
        return data.length <= max ? data : null
      } catch {
        return null
      }
    }
    const whole = encodeBatch(r)
    if (whole !== null) {
      this.#send(sessionId, whole, r, helds)
      return
    }
    for (let i = 0; i < r.length; i += 4) {
      let one = r.slice(i, i + 4)
      let data = encodeBatch(one)
      if (data === null) {
        const reason = 'the result is larger than the server max_payload or cannot be serialized'
        one = [r[i], STATUS_ERROR, serializeError(new SerializationError(`The task's result cannot be sent back to the caller: ${reason}`, { argIndex: -1, path: 'result', reason })), r[i + 3]]
        data = encodeBatch(one)!
      }
      this.#send(sessionId, data, one, [helds[i / 4]!])
    }
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
              if (held.dead) continue
              outbox.r.push(...r.slice(4 * j, 4 * j + 4))
              outbox.held.push(held)
            }
            if (outbox.r.length > 0) this.#schedule(sessionId, outbox)
          }, RETRY_MS).unref()
        },
      )
  }
}

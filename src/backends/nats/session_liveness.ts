/**
 * Whether the callers (sessions) of the tasks a worker holds are still there.
 *
 * A caller is pinged (a request to its session subject) before its first
 * task runs and then, while the worker holds its tasks, on the heartbeats
 * that come after `PING_EVERY_MS` without a sign of life: an answered ping
 * or results request counts as one. The pace is its own, not the ack
 * wait's: heartbeats to JetStream come every quarter of the ack wait (half
 * a second by default), and a caller pinged that often would answer pings
 * more than it receives results. A request with no responder means the caller is gone, unless it
 * is only resubscribing after a reconnect (a server restart), so it is asked
 * again for a short grace; a caller that answers nothing at all is waited
 * for up to the session timeout, then its tasks go back to the stream.
 */
import { NATS_PROTOCOL_VERSION, encode, type ToCaller } from './protocol.js'

/** How long an answer counts as a sign of life: a caller is pinged when it gave none for this long. */
const PING_EVERY_MS = 2_000
/** How long a caller without a responder is asked again before it counts as gone. */
const GONE_GRACE_MS = 2_000
/** How long a gone session is remembered (its tasks still in the stream are dropped). */
const GONE_KEEP_MS = 10 * 60_000
const GONE_MAX = 10_000

/** What a failed request to a caller says about it. */
export type Unanswered = 'retry' | 'gone' | 'unreachable'

export interface SessionLivenessOptions {
  /** Sends a request to a session's subject; rejects when unanswered. */
  request(session: string, data: Uint8Array, timeoutMs: number): Promise<unknown>
  /** Whether the connection closed for good. */
  closed(): boolean
  sessionTimeout: number
  /** Called when a heartbeat's ping finds a caller gone. */
  onGone(session: string): void
}

interface Session {
  lastSeen: number
  /** When requests to it started failing (0: the last one was answered). */
  firstFailure: number
  checking: Promise<boolean> | null
}

export class SessionLiveness {
  readonly #options: SessionLivenessOptions
  readonly #sessions = new Map<string, Session>()
  readonly #gone = new Map<string, number>()

  constructor(options: SessionLivenessOptions) {
    this.#options = options
  }

  /** How long a caller that answers nothing is waited for, in ms. */
  get sessionTimeout(): number {
    return this.#options.sessionTimeout
  }

  /** True when the caller answers (or answered recently); false when it is gone. */
  check(id: string): Promise<boolean> {
    const session = this.#session(id)
    if (this.#fresh(session)) return Promise.resolve(true)
    session.checking ??= this.#ping(id).finally(() => (session.checking = null))
    return session.checking
  }

  /** Pings each of `ids` not being pinged already and silent for a while (a heartbeat); a gone one is reported to `onGone`. */
  pingAll(ids: Iterable<string>): void {
    for (const id of ids) {
      const session = this.#session(id)
      if (session.checking !== null || this.#fresh(session)) continue
      session.checking = this.#ping(id).then(
        (alive) => {
          session.checking = null
          if (!alive) this.#options.onGone(id)
          return alive
        },
        () => {
          session.checking = null
          return true
        },
      )
    }
  }

  /** The caller answered a request. */
  answered(id: string): void {
    const session = this.#session(id)
    session.lastSeen = performance.now()
    session.firstFailure = 0
  }

  /**
   * A request to the caller failed with `error`: 'gone' when no responder
   * answered past the grace, 'unreachable' past the session timeout, else
   * 'retry'.
   */
  unanswered(id: string, error: unknown): Unanswered {
    const session = this.#session(id)
    const now = performance.now()
    if (session.firstFailure === 0) session.firstFailure = now
    const waited = now - session.firstFailure
    if (isNoResponders(error) && waited > Math.min(this.#options.sessionTimeout, GONE_GRACE_MS)) return 'gone'
    if (waited > this.#options.sessionTimeout) return 'unreachable'
    return 'retry'
  }

  /** Forgets the session; `gone`: remembers it is gone, so its tasks still in the stream are dropped. */
  forget(id: string, gone: boolean): void {
    this.#sessions.delete(id)
    if (!gone) return
    const now = performance.now()
    this.#gone.set(id, now)
    if (this.#gone.size > GONE_MAX) for (const [key, at] of this.#gone) if (now - at > GONE_KEEP_MS || this.#gone.size > GONE_MAX) this.#gone.delete(key)
  }

  /** Whether the session is known to be gone. */
  isGone(id: string): boolean {
    return this.#gone.has(id)
  }

  /** It answered within the last PING_EVERY_MS. */
  #fresh(session: Session): boolean {
    return session.firstFailure === 0 && performance.now() - session.lastSeen < PING_EVERY_MS
  }

  #session(id: string): Session {
    let session = this.#sessions.get(id)
    if (session === undefined) {
      session = { lastSeen: -Infinity, firstFailure: 0, checking: null }
      this.#sessions.set(id, session)
    }
    return session
  }

  async #ping(id: string): Promise<boolean> {
    const ping = encode({ v: NATS_PROTOCOL_VERSION, t: 'ping' } satisfies ToCaller)
    for (;;) {
      try {
        await this.#options.request(id, ping, 2_000)
        this.answered(id)
        return true
      } catch (error) {
        if (this.unanswered(id, error) !== 'retry' || this.#options.closed()) return false
        await new Promise((r) => setTimeout(r, 250))
      }
    }
  }
}

function isNoResponders(error: unknown): boolean {
  const e = error as { isNoResponders?: () => boolean; name?: string; cause?: unknown; message?: string }
  if (typeof e?.isNoResponders === 'function' && e.isNoResponders()) return true
  if (e?.name === 'NoRespondersError' || (e?.cause as { name?: string })?.name === 'NoRespondersError') return true
  return /no responders/i.test(String(e?.message))
}

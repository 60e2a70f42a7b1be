/**
 * A server socket that accepts authenticated message connections (Python's
 * `multiprocessing.connection.Listener`).
 *
 * Each incoming socket runs the authkey handshake on its own; `accept()`
 * hands out connections in the order their handshakes finish, and only
 * authenticated ones. A connection that does not authenticate (wrong key,
 * garbage, silence past `handshakeTimeout`) is closed having seen no data
 * but the challenge; it never reaches `accept()` (unlike Python, where it
 * raises in `accept()`: a stream of bad peers would flood an accept loop
 * with errors). It is counted in `handshakes` and passed to the
 * `onHandshakeError` option. At most `maxPendingHandshakes` handshakes run
 * at once; a connection over the cap is closed at once, so idle sockets
 * cannot pile up.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { unlinkSync } from 'node:fs'
import { AuthenticationError, ConnectionClosedError } from '../errors.js'
import { Deque } from '../internal/deque.js'
import { func, keysOf, knownKeys, plainObject, positiveInteger, timeoutMs } from '../internal/validate.js'
import { address as checkAddress, arbitraryAddress, type Address } from './address.js'
import { authkey as checkAuthkey, answerChallenge, deliverChallenge, HANDSHAKE_MAX } from './auth.js'
import { DEFAULT_MAX_MESSAGE_SIZE, SocketConnection } from './socket_connection.js'

/** Options of `new Listener()`. Unknown keys are refused, so a misspelled `authkey` never gives an open listener. */
export interface ListenerOptions {
  /** Where to listen: a Unix socket path or `{ host, port }` (port 0: any free port). Default: a fresh Unix socket in the temp directory. */
  address?: Address
  /** The shared secret clients must prove they know. Default: none (no handshake). */
  authkey?: Uint8Array | string
  /** Largest message accepted from a client, in bytes. Default 256 MiB. */
  maxMessageSize?: number
  /** A client must finish the handshake within this many ms. Default 10 000. */
  handshakeTimeout?: number
  /** Handshakes in progress at most; a connection over the cap is closed at once (counted as `refused`). Default 64. */
  maxPendingHandshakes?: number
  /**
   * Called with an AuthenticationError (saying why) and the peer's address
   * for every connection that did not authenticate. Default: none (read the
   * counts in `handshakes`).
   */
  onHandshakeError?: (error: AuthenticationError, peer: string) => void
  /** Pending connections the system queues before `accept()` (default 511). */
  backlog?: number
}

/** How the handshakes of a Listener have ended so far. */
export interface HandshakeCounts {
  /** In progress now. */
  pending: number
  /** Authenticated and handed to `accept()`. */
  accepted: number
  /** Wrong key, not our protocol, or closed by the peer before the end. */
  failed: number
  /** Not finished within `handshakeTimeout`: closed by the listener. */
  timedOut: number
  /** Closed at once because `maxPendingHandshakes` were in progress. */
  refused: number
}

/** Default cap on handshakes in progress. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64

type Accepted = { conn: SocketConnection } | { error: Error }

/**
 * A server socket that accepts authenticated message connections (Python's
 * `multiprocessing.connection.Listener`). With an `authkey`, each client must
 * prove it knows the key (HMAC challenge both ways) before any data flows.
 *
 * @throws TypeError / RangeError for a bad option, including an unknown key
 * @example
 * await using listener = new Listener({ address: { host: '127.0.0.1', port: 0 }, authkey: 'secret' })
 * await listener.ready
 * const conn = await listener.accept()
 * console.log(await conn.recv())
 */
export class Listener {
  readonly #server: Server
  readonly #authkey: Buffer | null
  readonly #maxMessageSize: number
  readonly #handshakeTimeout: number
  readonly #maxPending: number
  readonly #onHandshakeError: ((error: AuthenticationError, peer: string) => void) | undefined
  readonly #counts: HandshakeCounts = { pending: 0, accepted: 0, failed: 0, timedOut: 0, refused: 0 }
  readonly #accepted = new Deque<Accepted>()
  readonly #waiters = new Deque<(item: Accepted) => void>()
  readonly #ready: Promise<void>
  #address: Address
  #closed = false

  /**
   * Starts listening at once; `await listener.ready` (or the first `accept()`) to know it is bound.
   * @example
   * const listener = new Listener({ address: { host: '127.0.0.1', port: 0 }, authkey: 'secret' })
   * await listener.ready
   * const conn = await listener.accept()
   */
  constructor(options: ListenerOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('Listener', opts, keysOf<ListenerOptions>({ address: true, authkey: true, maxMessageSize: true, handshakeTimeout: true, maxPendingHandshakes: true, onHandshakeError: true, backlog: true }))
    this.#address = opts.address === undefined ? arbitraryAddress() : checkAddress('address', opts.address)
    this.#authkey = checkAuthkey('authkey', opts.authkey)
    this.#maxMessageSize = opts.maxMessageSize === undefined ? DEFAULT_MAX_MESSAGE_SIZE : positiveInteger('maxMessageSize', opts.maxMessageSize)
    this.#handshakeTimeout = opts.handshakeTimeout === undefined ? 10_000 : timeoutMs('handshakeTimeout', opts.handshakeTimeout, false)
    this.#maxPending = opts.maxPendingHandshakes === undefined ? DEFAULT_MAX_PENDING_HANDSHAKES : positiveInteger('maxPendingHandshakes', opts.maxPendingHandshakes)
    this.#onHandshakeError = opts.onHandshakeError === undefined ? undefined : (func('onHandshakeError', opts.onHandshakeError) as (error: AuthenticationError, peer: string) => void)
    const backlog = opts.backlog === undefined ? 511 : positiveInteger('backlog', opts.backlog)
    this.#server = createServer((socket) => void this.#onSocket(socket))
    const where = this.#address
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      const onListening = (): void => {
        this.#server.off('error', reject)
        this.#server.on('error', () => {})
        const bound = this.#server.address()
        if (typeof where !== 'string' && bound !== null && typeof bound === 'object') this.#address = { host: where.host, port: bound.port }
        resolve()
      }
      if (typeof where === 'string') this.#server.listen({ path: where, backlog }, onListening)
      else this.#server.listen({ host: where.host, port: where.port, backlog }, onListening)
    })
    this.#ready.catch(() => {})
  }

  /** Settles when the socket is bound (rejects with the listen error, e.g. EADDRINUSE). */
  get ready(): Promise<void> {
    return this.#ready
  }

  /** The bound address (with the real port once `ready`). */
  get address(): Address {
    return this.#address
  }

  /** The authkey clients must know, or null. */
  get authkey(): Buffer | null {
    return this.#authkey
  }

  /** How the handshakes have ended so far (a snapshot). */
  get handshakes(): Readonly<HandshakeCounts> {
    return { ...this.#counts }
  }

  async #onSocket(socket: Socket): Promise<void> {
    if (this.#closed) return void socket.destroy()
    if (this.#authkey === null) {
      this.#counts.accepted++
      return this.#deliver({ conn: new SocketConnection(socket, this.#maxMessageSize) })
    }
    const peer = socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix socket peer'
    if (this.#counts.pending >= this.#maxPending) {
      socket.destroy()
      this.#counts.refused++
      return this.#reject(new AuthenticationError(`Connection from ${peer} refused: ${this.#maxPending} handshakes already in progress (maxPendingHandshakes)`), peer)
    }
    this.#counts.pending++
    const conn = new SocketConnection(socket, HANDSHAKE_MAX)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      conn.close()
    }, this.#handshakeTimeout)
    timer.unref()
    try {
      await deliverChallenge(conn, this.#authkey)
      await answerChallenge(conn, this.#authkey)
    } catch (error) {
      conn.close()
      if (timedOut) {
        this.#counts.timedOut++
        this.#reject(new AuthenticationError(`Authentication failed: ${peer} did not finish the handshake within ${this.#handshakeTimeout} ms`, { cause: error }), peer)
      } else {
        this.#counts.failed++
        this.#reject(error instanceof AuthenticationError ? error : new AuthenticationError('Authentication failed: the handshake did not complete', { cause: error }), peer)
      }
      return
    } finally {
      clearTimeout(timer)
      this.#counts.pending--
    }
    conn.setMaxMessageSize(this.#maxMessageSize)
    this.#counts.accepted++
    this.#deliver({ conn })
  }

  #reject(error: AuthenticationError, peer: string): void {
    if (!this.#closed) this.#onHandshakeError?.(error, peer)
  }

  #deliver(item: Accepted): void {
    if (this.#closed) {
      if ('conn' in item) item.conn.close()
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) waiter(item)
    else this.#accepted.push(item)
  }

  /**
   * The next authenticated connection (connections that fail the handshake
   * never come out here: see `handshakes` and `onHandshakeError`).
   * @throws ConnectionClosedError once the listener is closed.
   */
  async accept(): Promise<SocketConnection> {
    await this.#ready
    if (this.#closed) throw new ConnectionClosedError('The listener is closed')
    const item = this.#accepted.shift() ?? (await new Promise<Accepted>((resolve) => this.#waiters.push(resolve)))
    if ('error' in item) throw item.error
    return item.conn
  }

  /** Stops listening (a Unix socket file is removed); connections already accepted stay open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w({ error: new ConnectionClosedError('The listener is closed') })
    for (let a = this.#accepted.shift(); a !== undefined; a = this.#accepted.shift()) if ('conn' in a) a.conn.close()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
    if (typeof this.#address === 'string') {
      try {
        unlinkSync(this.#address)
      } catch {}
    }
  }

  /** `await using listener = ...` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

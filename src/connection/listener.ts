/**
 * A server socket that accepts authenticated message connections (Python's
 * `multiprocessing.connection.Listener`).
 *
 * Each incoming socket runs the authkey handshake on its own; `accept()`
 * hands out connections in the order their handshakes finish. A failed
 * handshake rejects one `accept()` with AuthenticationError (as in Python),
 * the peer sees no data, and the listener keeps listening.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { unlinkSync } from 'node:fs'
import { AuthenticationError, ConnectionClosedError } from '../errors.js'
import { Deque } from '../internal/deque.js'
import { keysOf, knownKeys, plainObject, positiveInteger, timeoutMs } from '../internal/validate.js'
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
  /** Pending connections the system queues before `accept()` (default 511). */
  backlog?: number
}

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
    knownKeys('Listener', opts, keysOf<ListenerOptions>({ address: true, authkey: true, maxMessageSize: true, handshakeTimeout: true, backlog: true }))
    this.#address = opts.address === undefined ? arbitraryAddress() : checkAddress('address', opts.address)
    this.#authkey = checkAuthkey('authkey', opts.authkey)
    this.#maxMessageSize = opts.maxMessageSize === undefined ? DEFAULT_MAX_MESSAGE_SIZE : positiveInteger('maxMessageSize', opts.maxMessageSize)
    this.#handshakeTimeout = opts.handshakeTimeout === undefined ? 10_000 : timeoutMs('handshakeTimeout', opts.handshakeTimeout, false)
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

  async #onSocket(socket: Socket): Promise<void> {
    const conn = new SocketConnection(socket, this.#authkey !== null ? HANDSHAKE_MAX : this.#maxMessageSize)
    if (this.#closed) return conn.close()
    if (this.#authkey !== null) {
      const timer = setTimeout(() => conn.close(), this.#handshakeTimeout)
      timer.unref()
      try {
        await deliverChallenge(conn, this.#authkey)
        await answerChallenge(conn, this.#authkey)
      } catch (error) {
        conn.close()
        this.#deliver({ error: error instanceof AuthenticationError ? error : new AuthenticationError('Authentication failed: the handshake did not complete', { cause: error }) })
        return
      } finally {
        clearTimeout(timer)
      }
      conn.setMaxMessageSize(this.#maxMessageSize)
    }
    this.#deliver({ conn })
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
   * The next authenticated connection.
   * @throws AuthenticationError for a client whose handshake failed (the listener keeps listening);
   *   ConnectionClosedError once the listener is closed.
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

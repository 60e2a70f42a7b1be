/**
 * Connects to a Listener and runs the authkey handshake (Python's
 * `multiprocessing.connection.Client`). Resolves with an authenticated
 * connection, or rejects with AuthenticationError having sent no data.
 *
 * Every step waits on the peer, so the whole attempt is bounded by
 * `timeout`: a peer that accepts the TCP connection and then stays silent
 * gets a ConnectTimeoutError naming the address and the step it never took.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { CancelledError, ConnectTimeoutError, type ConnectStage } from '../errors.js'
import { abortSignal, keysOf, knownKeys, plainObject, positiveInteger, timeoutMs } from '../internal/validate.js'
import { address as checkAddress, formatAddress, type Address } from './address.js'
import { authkey as checkAuthkey, answerChallenge, deliverChallenge, HANDSHAKE_MAX } from './auth.js'
import { DEFAULT_MAX_MESSAGE_SIZE, SocketConnection } from './socket_connection.js'

/** How long `Client()` and `Manager.connect()` wait by default: 20 s. */
export const DEFAULT_CONNECT_TIMEOUT = 20_000

/** Options of `Client()`. Unknown keys are refused. */
export interface ClientOptions {
  /** The Listener's authkey. Default: none (the Listener must have none too). */
  authkey?: Uint8Array | string
  /** Largest message accepted from the server, in bytes. Default 256 MiB. */
  maxMessageSize?: number
  /** Milliseconds for the connection and the handshake together (Infinity: no limit). Default 20 000. */
  timeout?: number
  /** Aborting it gives up at once with CancelledError (its reason as `cause`). */
  signal?: AbortSignal
}

/**
 * @example
 * const conn = await Client({ host: '127.0.0.1', port: 6000 }, { authkey: 'secret', timeout: 5000 })
 * conn.send({ hello: 'world' })
 * @returns the authenticated connection.
 * @throws AuthenticationError when the keys differ; ConnectTimeoutError when the peer does not
 *   accept or does not finish the handshake within `timeout`; CancelledError when `signal` aborts;
 *   the connect error (ECONNREFUSED, ENOENT) when nobody listens.
 */
export async function Client(address: Address, options: ClientOptions = {}): Promise<SocketConnection> {
  const where = checkAddress('address', address)
  const opts = plainObject('options', options)
  knownKeys('Client()', opts, keysOf<ClientOptions>({ authkey: true, maxMessageSize: true, timeout: true, signal: true }))
  const key = checkAuthkey('authkey', opts.authkey)
  const max = opts.maxMessageSize === undefined ? DEFAULT_MAX_MESSAGE_SIZE : positiveInteger('maxMessageSize', opts.maxMessageSize)
  const timeout = opts.timeout === undefined ? DEFAULT_CONNECT_TIMEOUT : timeoutMs('timeout', opts.timeout)
  const signal = abortSignal('signal', opts.signal)
  const shown = formatAddress(where)
  if (signal?.aborted) throw new CancelledError(`Client() to ${shown} was aborted`, { cause: signal.reason })

  let stage: ConnectStage = 'connect'
  let missing = 'did not accept the connection'
  let socket: Socket | null = null
  let conn: SocketConnection | null = null
  // Set when the attempt gives up; whatever the pending step then throws is replaced by it.
  let gaveUp: Error | null = null
  let failConnect: ((error: Error) => void) | null = null
  const giveUp = (error: Error): void => {
    if (gaveUp !== null) return
    gaveUp = error
    if (conn !== null) conn.close()
    else socket?.destroy()
    failConnect?.(error)
  }
  const timer = Number.isFinite(timeout)
    ? setTimeout(() => giveUp(new ConnectTimeoutError(`Connecting to ${shown} timed out after ${timeout} ms: the other end ${missing}`, { address: shown, stage })), timeout)
    : undefined
  timer?.unref() // the socket keeps the program alive while the attempt is pending
  const onAbort = (): void => giveUp(new CancelledError(`Client() to ${shown} was aborted`, { cause: signal!.reason }))
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const connected = await new Promise<Socket>((resolve, reject) => {
      failConnect = reject
      const s = typeof where === 'string' ? netConnect({ path: where }) : netConnect({ host: where.host, port: where.port })
      socket = s
      s.once('connect', () => {
        s.off('error', reject)
        resolve(s)
      })
      s.once('error', reject)
    })
    failConnect = null
    conn = new SocketConnection(connected, key !== null ? HANDSHAKE_MAX : max)
    if (key !== null) {
      stage = 'handshake'
      const step = (what: string): void => {
        missing = what
      }
      await answerChallenge(conn, key, step)
      await deliverChallenge(conn, key, step)
      conn.setMaxMessageSize(max)
    }
    if (gaveUp !== null) throw gaveUp
    return conn
  } catch (error) {
    if (conn !== null) conn.close()
    else (socket as Socket | null)?.destroy()
    throw gaveUp ?? error
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

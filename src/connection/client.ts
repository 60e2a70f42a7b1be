/**
 * Connects to a Listener and runs the authkey handshake (Python's
 * `multiprocessing.connection.Client`). Resolves with an authenticated
 * connection, or rejects with AuthenticationError having sent no data.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { keysOf, knownKeys, plainObject, positiveInteger } from '../internal/validate.js'
import { address as checkAddress, type Address } from './address.js'
import { authkey as checkAuthkey, answerChallenge, deliverChallenge, HANDSHAKE_MAX } from './auth.js'
import { DEFAULT_MAX_MESSAGE_SIZE, SocketConnection } from './socket_connection.js'

/** Options of `Client()`. Unknown keys are refused. */
export interface ClientOptions {
  /** The Listener's authkey. Default: none (the Listener must have none too). */
  authkey?: Uint8Array | string
  /** Largest message accepted from the server, in bytes. Default 256 MiB. */
  maxMessageSize?: number
}

/**
 * @example
 * const conn = await Client({ host: '127.0.0.1', port: 6000 }, { authkey: 'secret' })
 * conn.send({ hello: 'world' })
 * @throws AuthenticationError when the keys differ; the connect error (ECONNREFUSED, ENOENT) when nobody listens.
 */
export async function Client(address: Address, options: ClientOptions = {}): Promise<SocketConnection> {
  const where = checkAddress('address', address)
  const opts = plainObject('options', options)
  knownKeys('Client()', opts, keysOf<ClientOptions>({ authkey: true, maxMessageSize: true }))
  const key = checkAuthkey('authkey', opts.authkey)
  const max = opts.maxMessageSize === undefined ? DEFAULT_MAX_MESSAGE_SIZE : positiveInteger('maxMessageSize', opts.maxMessageSize)
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = typeof where === 'string' ? netConnect({ path: where }) : netConnect({ host: where.host, port: where.port })
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
  const conn = new SocketConnection(socket, key !== null ? HANDSHAKE_MAX : max)
  if (key !== null) {
    try {
      await answerChallenge(conn, key)
      await deliverChallenge(conn, key)
    } catch (error) {
      conn.close()
      throw error
    }
    conn.setMaxMessageSize(max)
  }
  return conn
}

/**
 * The authkey handshake of Listener and Client, modelled on Python's
 * `deliver_challenge` / `answer_challenge`: each side proves it knows the key
 * by returning HMAC-SHA256(key, challenge) for 32 random bytes chosen by the
 * other side; the key itself never travels. The server challenges first, so
 * a client with the wrong key is turned away before it can send anything
 * the server would act on. Handshake frames are tiny and capped, so an
 * unauthenticated peer cannot make the server buffer much.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { AuthenticationError } from '../errors.js'
import { typeFail } from '../internal/validate.js'
import type { SocketConnection } from './socket_connection.js'

const CHALLENGE = Buffer.from('#CHALLENGE#{sha256}')
const WELCOME = Buffer.from('#WELCOME#')
const FAILURE = Buffer.from('#FAILURE#')
/** The largest handshake frame either side accepts. */
export const HANDSHAKE_MAX = 256

/** Normalises an authkey option: bytes or a string (UTF-8), non-empty. */
export function authkey(name: string, value: unknown): Buffer | null {
  if (value === undefined || value === null) return null
  if (typeof value === 'string' && value !== '') return Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array && value.byteLength > 0) return Buffer.from(value)
  typeFail(name, 'a non-empty Uint8Array or string', value)
}

function digest(key: Buffer, message: Buffer): Buffer {
  return createHmac('sha256', key).update(message).digest()
}

async function recvSmall(conn: SocketConnection): Promise<Buffer> {
  try {
    return await conn.recvBytes()
  } catch (error) {
    throw new AuthenticationError('Authentication failed: the other end closed the connection during the handshake', { cause: error })
  }
}

/** Told what a handshake step waits for, so a timeout can say what did not happen. */
export type WaitingFor = (what: string) => void

/** Challenges the peer; throws AuthenticationError (after telling the peer) when its answer is wrong. */
export async function deliverChallenge(conn: SocketConnection, key: Buffer, waitingFor?: WaitingFor): Promise<void> {
  const nonce = randomBytes(32)
  conn.sendBytes(Buffer.concat([CHALLENGE, nonce]))
  waitingFor?.('did not answer our authkey challenge')
  const answer = await recvSmall(conn)
  const expected = digest(key, nonce)
  if (answer.length !== expected.length || !timingSafeEqual(answer, expected)) {
    try {
      conn.sendBytes(FAILURE)
    } catch {}
    throw new AuthenticationError()
  }
  conn.sendBytes(WELCOME)
}

/** Answers the peer's challenge; throws AuthenticationError when the peer refuses the answer. */
export async function answerChallenge(conn: SocketConnection, key: Buffer, waitingFor?: WaitingFor): Promise<void> {
  waitingFor?.('accepted the connection but never sent its authkey challenge')
  const message = await recvSmall(conn)
  if (message.length !== CHALLENGE.length + 32 || !message.subarray(0, CHALLENGE.length).equals(CHALLENGE)) {
    throw new AuthenticationError('Authentication failed: the other end did not send a challenge (is it a multiproc Listener with an authkey?)')
  }
  conn.sendBytes(digest(key, message.subarray(CHALLENGE.length)))
  waitingFor?.('did not say whether it accepted our answer to its challenge')
  const verdict = await recvSmall(conn)
  if (!verdict.equals(WELCOME)) throw new AuthenticationError()
}

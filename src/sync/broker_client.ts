/**
 * The child's half of the broker (see sync/broker.ts): sends an operation
 * on a brokered object to the parent and settles when the parent replies.
 * Only the main thread of a child process started by multiproc has the IPC
 * channel to the parent.
 */
import { isMainThread } from 'node:worker_threads'
import { UnsupportedBackendError } from '../errors.js'
import { deserializeError, type SerializedValue } from '../wire/remote_error.js'

interface Reply {
  t: 'mp-broker'
  i: number
  ok: boolean
  v: unknown
}

const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>()
let nextCall = 1
let listening = false

function channel(): (message: unknown) => void {
  if (!isMainThread || typeof process.send !== 'function') {
    throw new UnsupportedBackendError('This object belongs to a parent process and can only be used in the main thread of the child process it was passed to')
  }
  if (!listening) {
    listening = true
    process.on('message', (message: unknown) => {
      const reply = message as Reply
      if (typeof message !== 'object' || message === null || reply.t !== 'mp-broker') return
      const call = pending.get(reply.i)
      if (call === undefined) return
      pending.delete(reply.i)
      if (reply.ok) call.resolve(reply.v)
      else call.reject(deserializeError(reply.v as SerializedValue))
    })
    process.on('disconnect', () => {
      for (const call of pending.values()) call.reject(new UnsupportedBackendError('The parent process went away'))
      pending.clear()
    })
  }
  return process.send.bind(process) as (message: unknown) => void
}

/** Performs `method` on the parent's object `o` and resolves with its result. */
export function remoteCall(o: number, method: string, args: unknown[]): Promise<unknown> {
  const send = channel()
  const i = nextCall++
  return new Promise((resolve, reject) => {
    pending.set(i, { resolve, reject })
    send({ t: 'mp-broker', i, o, m: method, a: args })
  })
}

/** Sends `method` without waiting for it (ordered before this child's later calls). */
export function remoteCast(o: number, method: string, args: unknown[]): void {
  channel()({ t: 'mp-broker', i: 0, o, m: method, a: args })
}

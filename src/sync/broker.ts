/**
 * The parent as broker: primitives used in child processes.
 *
 * A child process cannot share a SharedArrayBuffer with its parent, so a
 * Lock or a Queue passed to a child travels as an id. In the child it
 * becomes the same class in "remote" mode (sync/broker_client.ts), which
 * sends each operation to the parent over the IPC channel it already has;
 * the parent performs it on the real object (which threads may be using at
 * the same time, through shared memory) and replies.
 *
 *   child: q.get() ──{ t: 'mp-broker', i: 7, o: 3, m: 'get', a: [...] }──▶ parent
 *   parent: registry[3].brokerCall('get', args, owner = -childPid) ... ──{ t: 'mp-broker', i: 7, ok, v }──▶ child
 *
 * Calls from one child are started in the order they arrive, so a
 * fire-and-forget `release()` is seen before the same child's next call.
 * Objects stay registered for the life of the parent once shared with a
 * child (a child may hold them as long as it likes).
 */
import { setSideChannelHandler, type SideMessage } from '../backends/child_process/side_channel.js'
import { serializeError } from '../wire/remote_error.js'
import { withSignal } from './monitor.js'

export const kBrokerCall = Symbol('multiproc.brokerCall')

/** An object the broker can serve: it performs `method` for the process `owner` (-pid). */
export interface Brokered {
  [kBrokerCall](method: string, args: unknown[], owner: number): unknown
}

const objects = new Map<number, Brokered>()
const ids = new WeakMap<Brokered, number>()
let nextId = 1
let installed = false
/** Per child: aborted when it goes away, ending the waits started for it. */
const lifetimes = new Map<number, AbortController>()

/** Registers `object` with the broker (once) and returns its id. */
export function brokerId(object: Brokered): number {
  let id = ids.get(object)
  if (id === undefined) {
    id = nextId++
    ids.set(object, id)
    objects.set(id, object)
    install()
  }
  return id
}

function install(): void {
  if (installed) return
  installed = true
  setSideChannelHandler(
    (message, reply, pid) => serve(message, reply, pid),
    (pid) => {
      lifetimes.get(pid)?.abort(new Error(`child process ${pid} went away`))
      lifetimes.delete(pid)
    },
  )
}

function serve(message: SideMessage, reply: (message: SideMessage) => void, pid: number): void {
  {
    const { i, o, m, a } = message as SideMessage & { i: number; o: number; m: string; a: unknown[] }
    const object = objects.get(o)
    let lifetime = lifetimes.get(pid)
    if (lifetime === undefined) {
      lifetime = new AbortController()
      lifetimes.set(pid, lifetime)
    }
    const signal = lifetime.signal
    let result: Promise<unknown>
    try {
      if (object === undefined) throw new Error(`internal: no brokered object #${o}`)
      result = Promise.resolve(withSignal(signal, () => object[kBrokerCall](m, a, -pid)))
    } catch (error) {
      result = Promise.reject(error)
    }
    result.then(
      (v) => {
        if (i !== 0) reply({ t: 'mp-broker', i, ok: true, v })
      },
      (error: unknown) => {
        if (i !== 0 && !signal.aborted) reply({ t: 'mp-broker', i, ok: false, v: serializeError(error) })
      },
    )
  }
}

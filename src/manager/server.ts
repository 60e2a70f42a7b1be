/**
 * The Manager's server: holds the shared objects and runs the calls proxies
 * make on them. It runs in its own worker thread (server_entry.ts), so a
 * busy main thread does not stall other processes' calls.
 *
 *   client ──{ id, op: 'create', typeid, args }──▶ object table ──▶ { id, ok, value: { oid, typeid, methods } }
 *   client ──{ id, op: 'call', oid, method, args }──▶ object[method](...) ──▶ { id, ok, value } (or error)
 *
 * Requests on one connection start in arrival order, and a non-blocking call
 * runs to completion before the next request is read, so a client sees its
 * own writes. A blocking call (Queue.get, Lock.acquire, Event.wait) answers
 * when it is done, out of order, matched by `id`. A malformed message or a
 * protocol violation closes that connection only; a vanished client drops
 * its waiters and releases its locks.
 *
 * Objects live until the server shuts down (proxies are not reference
 * counted, unlike Python's manager; see docs/manager.md).
 */
import { serializeError } from '../wire/remote_error.js'
import { Listener } from '../connection/listener.js'
import type { SocketConnection } from '../connection/socket_connection.js'
import type { Address } from '../connection/address.js'
import { builtinTypes, type Caller } from './builtins.js'

/** A user type: a factory task, referenced by module and export name. */
export interface Registration {
  typeid: string
  module: string
  name: string
}

export interface ServerOptions {
  address: Address
  authkey: Uint8Array
  registry: Registration[]
  maxMessageSize?: number
}

interface Entry {
  typeid: string
  object: object
  builtin: boolean
  methods: string[]
}

type Request = { id: number; op: 'create'; typeid: string; args: unknown[] } | { id: number; op: 'call'; oid: number; method: string; args: unknown[] } | { id: number; op: 'ping' }

/** Methods a client may call on a user object: its public functions, own and inherited. */
function exposedMethods(object: object): string[] {
  const names = new Set<string>()
  for (let o: object | null = object; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || key.startsWith('_')) continue
      const d = Object.getOwnPropertyDescriptor(o, key)
      if (d !== undefined && typeof d.value === 'function') names.add(key)
    }
  }
  return [...names]
}

class ConnectionCaller implements Caller {
  readonly #cleanups = new Set<() => void>()
  gone = false
  onGone(cleanup: () => void): () => void {
    this.#cleanups.add(cleanup)
    return () => this.#cleanups.delete(cleanup)
  }
  vanish(): void {
    this.gone = true
    for (const c of [...this.#cleanups]) c()
    this.#cleanups.clear()
  }
}

export class ManagerServer {
  readonly #listener: Listener
  readonly #registry = new Map<string, Registration>()
  readonly #objects = new Map<number, Entry>()
  readonly #oids = new WeakMap<object, number>()
  readonly #connections = new Set<SocketConnection>()
  #nextOid = 1
  #closing = false

  constructor(options: ServerOptions) {
    for (const r of options.registry) this.#registry.set(r.typeid, r)
    this.#listener = new Listener({ address: options.address, authkey: options.authkey, ...(options.maxMessageSize ? { maxMessageSize: options.maxMessageSize } : {}) })
  }

  get address(): Address {
    return this.#listener.address
  }

  async start(): Promise<void> {
    await this.#listener.ready
    void this.#acceptLoop()
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closing) {
      let conn: SocketConnection
      try {
        conn = await this.#listener.accept()
      } catch {
        continue // a failed handshake (or the listener closing, checked above)
      }
      this.#connections.add(conn)
      this.#serve(conn)
    }
  }

  #serve(conn: SocketConnection): void {
    const caller = new ConnectionCaller()
    // Messages are handled as they are parsed, in order; the connection's
    // end (EOF, a malformed frame, an oversized message) ends this client only.
    conn.setHandler(
      (message) => {
        if (!this.#valid(message)) {
          conn.close() // not our protocol: the stream cannot be trusted
          return
        }
        this.#handle(conn, caller, message)
      },
      () => {
        conn.close()
        this.#connections.delete(conn)
        caller.vanish()
      },
    )
  }

  #valid(m: unknown): m is Request {
    if (typeof m !== 'object' || m === null) return false
    const r = m as Record<string, unknown>
    if (typeof r.id !== 'number') return false
    if (r.op === 'ping') return true
    if (r.op === 'create') return typeof r.typeid === 'string' && Array.isArray(r.args)
    if (r.op === 'call') return typeof r.oid === 'number' && typeof r.method === 'string' && Array.isArray(r.args)
    return false
  }

  #handle(conn: SocketConnection, caller: ConnectionCaller, request: Request): void {
    let result: unknown
    try {
      result = this.#run(caller, request)
    } catch (error) {
      return this.#reply(conn, request.id, false, error)
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.#reply(conn, request.id, true, value),
        (error) => this.#reply(conn, request.id, false, error),
      )
    } else this.#reply(conn, request.id, true, result)
  }

  #reply(conn: SocketConnection, id: number, ok: boolean, value: unknown): void {
    if (conn.closed) return
    try {
      conn.send(ok ? { id, ok, value } : { id, ok, error: serializeError(value) })
    } catch (error) {
      // An uncloneable result: tell the caller rather than leave it waiting.
      try {
        conn.send({ id, ok: false, error: serializeError(new TypeError(`The result of the call cannot be sent back: ${(error as Error).message}`)) })
      } catch {}
    }
  }

  #run(caller: ConnectionCaller, request: Request): unknown {
    if (request.op === 'ping') return 'pong'
    if (request.op === 'create') return this.#create(request.typeid, request.args)
    const entry = this.#objects.get(request.oid)
    if (entry === undefined) throw new RangeError(`No shared object with id ${request.oid} (the manager was restarted, or the id is wrong)`)
    if (!entry.methods.includes(request.method)) throw new TypeError(`${entry.typeid} has no method ${JSON.stringify(request.method)}; it has ${entry.methods.join(', ')}`)
    const fn = (entry.object as Record<string, (...a: unknown[]) => unknown>)[request.method]!
    return entry.builtin ? fn.call(entry.object, caller, ...request.args) : fn.apply(entry.object, request.args)
  }

  #create(typeid: string, args: unknown[]): unknown {
    const builtin = builtinTypes[typeid]
    if (builtin !== undefined) {
      const object = new builtin(...args)
      return this.#add(typeid, object, true)
    }
    const registration = this.#registry.get(typeid)
    if (registration === undefined) throw new TypeError(`Unknown typeid ${JSON.stringify(typeid)}: register it with manager.register() before start()`)
    return import(registration.module).then(async (ns: Record<string, unknown>) => {
      const factory = ns[registration.name]
      if (typeof factory !== 'function') throw new TypeError(`${registration.module} does not export a function ${registration.name}`)
      const object = await factory(...args)
      if (typeof object !== 'object' || object === null) throw new TypeError(`The factory of ${typeid} returned ${String(object)}, not an object`)
      return this.#add(typeid, object, false)
    })
  }

  #add(typeid: string, object: object, builtin: boolean): { oid: number; typeid: string; methods: string[] } {
    // A factory may return the same object every time (a singleton): one id for it.
    const known = this.#oids.get(object)
    if (known !== undefined) return { oid: known, typeid, methods: this.#objects.get(known)!.methods }
    const oid = this.#nextOid++
    const methods = exposedMethods(object)
    this.#objects.set(oid, { typeid, object, builtin, methods })
    this.#oids.set(object, oid)
    return { oid, typeid, methods }
  }

  async close(): Promise<void> {
    this.#closing = true
    await this.#listener.close()
    for (const conn of this.#connections) conn.close()
    this.#connections.clear()
  }
}


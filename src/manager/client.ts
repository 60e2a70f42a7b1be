/**
 * One connection per thread to each Manager server, shared by every proxy
 * of that server in the thread. Calls are multiplexed by id, so a blocking
 * call (a Queue.get) does not hold up the others. The client keeps the program
 * alive only while calls are outstanding.
 *
 * Values travel through the shareable protocol: a proxy put into a dict or a
 * queue travels as its descriptor and comes back out as a proxy.
 */
import { Client, type ClientOptions } from '../connection/client.js'
import type { SocketConnection } from '../connection/socket_connection.js'
import { formatAddress, type Address } from '../connection/address.js'
import { AuthenticationError, CancelledError, ConnectionClosedError, TimeoutError } from '../errors.js'
import { deserializeError, type SerializedValue } from '../wire/remote_error.js'
import { encodeShareables, reviveShareables, type ShareTarget } from '../wire/shareable.js'

/**
 * What arguments of a manager call are encoded for: the manager's server, a
 * process that is not one of this process's workers. It is taken to be on
 * this machine (a proxy on a Unix socket and a SharedMemory block by name
 * reach it); it shares no memory with the caller and reaches no broker here,
 * so a Lock or a Queue is refused.
 */
const MANAGER_TARGET: ShareTarget = Object.freeze({ backend: 'manager', sameMachine: true, isolated: true, sharedMemory: false, ownProcess: true, ownWorkers: false })

type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedValue }

export class ManagerClient {
  readonly #conn: SocketConnection
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>()
  readonly #key: string
  #nextId = 1
  #closed: Error | null = null

  private constructor(conn: SocketConnection, key: string) {
    this.#conn = conn
    this.#key = key
    conn.refOnlyForRequests()
    conn.setHandler(
      (message) => this.#onMessage(message),
      (reason) => this.#fail(reason),
    )
  }

  static #clients = new Map<string, Promise<ManagerClient>>()
  static #ready = new Map<string, ManagerClient>()

  static #keyOf(address: Address, authkey: Uint8Array): string {
    return `${formatAddress(address)}#${Buffer.from(authkey).toString('hex')}`
  }

  /** The thread's client of `address` if it is already connected (the fast path of every call). */
  static ready(address: Address, authkey: Uint8Array): ManagerClient | undefined {
    return ManagerClient.#ready.get(ManagerClient.#keyOf(address, authkey))
  }

  /**
   * The thread's client of the server at `address` (connected on first use,
   * within `connect.timeout`, default 20 s; `connect.signal` aborts that first connect).
   */
  static get(address: Address, authkey: Uint8Array, connect: Pick<ClientOptions, 'timeout' | 'signal'> = {}): Promise<ManagerClient> {
    const key = ManagerClient.#keyOf(address, authkey)
    let client = ManagerClient.#clients.get(key)
    if (client === undefined) {
      client = Client(address, { authkey, ...connect }).then(
        (conn) => {
          const made = new ManagerClient(conn, key)
          ManagerClient.#ready.set(key, made)
          return made
        },
        (error: unknown) => {
          if (error instanceof AuthenticationError || error instanceof TimeoutError || error instanceof CancelledError) throw error
          throw new ConnectionClosedError(`Cannot reach the manager at ${formatAddress(address)} (shut down, or never started): ${(error as Error).message}`, { cause: error })
        },
      )
      client.catch(() => ManagerClient.#clients.delete(key))
      ManagerClient.#clients.set(key, client)
    }
    return client
  }

  /** Closes every client of this thread to `address` (after the server shut down). */
  static async forget(address: Address): Promise<void> {
    const prefix = `${formatAddress(address)}#`
    for (const [key, client] of ManagerClient.#clients) {
      if (!key.startsWith(prefix)) continue
      ManagerClient.#clients.delete(key)
      ManagerClient.#ready.delete(key)
      try {
        ;(await client).close()
      } catch {}
    }
  }

  #onMessage(message: unknown): void {
    const response = message as Response
    const pending = this.#pending.get(response.id)
    if (pending === undefined) return
    this.#pending.delete(response.id)
    this.#conn.unrefForRequest()
    if (!response.ok) pending.reject(deserializeError(response.error))
    else if (typeof response.value !== 'object' || response.value === null) pending.resolve(response.value)
    else reviveShareables(response.value, { backend: 'manager' }).then(pending.resolve, pending.reject)
  }

  #fail(error: unknown): void {
    if (this.#closed === null) this.#closed = new ConnectionClosedError('The connection to the manager was lost', { cause: error })
    if (ManagerClient.#ready.get(this.#key) === this) {
      ManagerClient.#clients.delete(this.#key)
      ManagerClient.#ready.delete(this.#key)
    }
    for (const [, p] of this.#pending) {
      this.#conn.unrefForRequest()
      p.reject(this.#closed)
    }
    this.#pending.clear()
  }

  request(message: Record<string, unknown>): Promise<unknown> {
    if (this.#closed !== null) return Promise.reject(this.#closed)
    const id = this.#nextId++
    const args = message.args as unknown[] | undefined
    // Only arguments that hold objects can hold a proxy to encode.
    const plain = args === undefined || args.every((a) => typeof a !== 'object' || a === null)
    const payload = plain ? { ...message, id } : { ...message, id, args: encodeShareables(args, MANAGER_TARGET) }
    return new Promise((resolve, reject) => {
      try {
        this.#conn.send(payload)
      } catch (error) {
        reject(error)
        return
      }
      this.#pending.set(id, { resolve, reject })
      this.#conn.refForRequest()
    })
  }

  close(): void {
    this.#conn.close()
  }
}

/**
 * A server of shared objects that any thread, child process or other Node
 * process can use through proxies (Python's `multiprocessing.Manager()` /
 * `SyncManager`).
 *
 *   Manager.start() ──▶ server worker thread (server.ts) ◀──socket + authkey── proxies in threads, processes, other programs
 *
 * Lifecycle: 'initial' ──start()──▶ 'started' ──shutdown()──▶ 'shutdown', or
 * 'initial' ──connect()──▶ 'connected' (a client of a server someone else
 * started) ──shutdown()──▶ 'shutdown'. Anything else throws InvalidStateError.
 */
import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { CancelledError, ConnectTimeoutError, InvalidStateError } from '../errors.js'
import { threadLoaderSetup } from '../backends/exec_argv.js'
import { abortSignal, keysOf, knownKeys, nonNegativeInteger, plainObject, positiveInteger, string, timeoutMs } from '../internal/validate.js'
import { resolveTask, type Task } from '../task_ref.js'
import { deserializeError, type SerializedValue } from '../wire/remote_error.js'
import { address as checkAddress, arbitraryAddress, formatAddress, type Address } from '../connection/address.js'
import { DEFAULT_CONNECT_TIMEOUT } from '../connection/client.js'
import { authkey as checkAuthkey } from '../connection/auth.js'
import { builtinTypes } from './builtins.js'
import { ManagerClient } from './client.js'
import type { Registration } from './server.js'
import {
  makeProxy,
  type AutoProxy,
  type BaseProxy,
  type DictProxy,
  type EventProxy,
  type ListProxy,
  type LockProxy,
  type NamespaceProxy,
  type ProxyToken,
  type QueueProxy,
  type ValueProxy,
} from './proxies.js'

/** Options of `new Manager()`. */
export interface ManagerOptions {
  /** Where the server listens (or, for `connect()`, where it is). Default: a fresh Unix socket in the temp directory. */
  address?: Address
  /** The shared secret. Default: 32 random bytes (read it from `manager.authkey` to hand to other programs). */
  authkey?: Uint8Array | string
  /** Largest message the server accepts, in bytes. Default 256 MiB. */
  maxMessageSize?: number
}

/** Options of `Manager.connect()`. Unknown keys are refused. */
export interface ManagerConnectOptions {
  /** Milliseconds for connecting, the handshake and the server's first answer together (Infinity: no limit). Default 20 000. */
  timeout?: number
  /** Aborting it gives up at once with CancelledError (its reason as `cause`). */
  signal?: AbortSignal
}

/** Where a Manager is in its life: `initial`, then `started` (it runs the server) or `connected` (a client of one), then `shutdown`. */
export type ManagerState = 'initial' | 'started' | 'connected' | 'shutdown'

const entry = new URL('../worker/thread_entry.js', import.meta.url)
const serverEntry = new URL(`./server_entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href

/**
 * Serves shared objects (dicts, lists, queues, locks, values and your own
 * registered types) to threads, child processes and other programs through
 * proxies (Python's `multiprocessing.Manager()`). The server runs in its own
 * worker thread; other programs use it with `connect()`.
 *
 * @throws InvalidStateError for calls in the wrong state (`register()` after `start()`, a second `start()`)
 * @example
 * await using manager = new Manager()
 * await manager.start()
 * const d = await manager.dict()
 * await d.set('answer', 42)
 * console.log(await d.get('answer')) // 42
 */
export class Manager {
  #address: Address
  readonly #authkey: Buffer
  readonly #maxMessageSize: number | undefined
  readonly #registry = new Map<string, Registration>()
  readonly #pending: Promise<void>[] = []
  #state: ManagerState = 'initial'
  #worker: Worker | null = null
  #cleanupSocket: (() => void) | null = null

  /**
   * @example
   * await using manager = new Manager()
   * await manager.start()
   * const d = await manager.dict()
   * await pool.map(record, [[d, 1], [d, 2]])  // proxies travel to workers
   * console.log(await d.copy())
   */
  constructor(options: ManagerOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('Manager', opts, keysOf<ManagerOptions>({ address: true, authkey: true, maxMessageSize: true }))
    this.#address = opts.address === undefined ? arbitraryAddress() : checkAddress('address', opts.address)
    this.#authkey = checkAuthkey('authkey', opts.authkey) ?? randomBytes(32)
    this.#maxMessageSize = opts.maxMessageSize === undefined ? undefined : positiveInteger('maxMessageSize', opts.maxMessageSize)
  }

  /** The server's address (the real port once started, for `{ port: 0 }`). */
  get address(): Address {
    return this.#address
  }

  /** The key clients need. */
  get authkey(): Buffer {
    return this.#authkey
  }

  /** Where the manager is in its life: `initial`, `started`, `connected` or `shutdown`. */
  get state(): ManagerState {
    return this.#state
  }

  /**
   * Makes `manager.create(typeid, ...args)` build objects with `factory`, a
   * task (an exported function, or a `task()` reference) the server calls
   * with the arguments. Every public method of what it returns is exposed.
   * Call before `start()`.
   */
  register(typeid: string, factory: Task): void {
    string('typeid', typeid)
    if (this.#state !== 'initial') throw new InvalidStateError(`register() must be called before start(); the manager is ${this.#state}`)
    if (typeid in builtinTypes) throw new InvalidStateError(`${typeid} is a built-in type of the manager`)
    const resolved = resolveTask(factory, 'factory')
    this.#registry.set(typeid, { typeid, module: resolved.module, name: resolved.name })
    if (resolved.verified !== null) this.#pending.push(resolved.verified)
  }

  /** Starts the server in a worker thread. @throws InvalidStateError if already started; the listen error (EADDRINUSE…). */
  async start(): Promise<void> {
    if (this.#state !== 'initial') throw new InvalidStateError(`start() on a manager that is ${this.#state}`)
    this.#state = 'started'
    await Promise.all(this.#pending)
    const setup = threadLoaderSetup()
    const worker = new Worker(entry, {
      workerData: {
        entry: { registerModules: setup.registerModules, bootstrap: serverEntry },
        manager: { address: this.#address, authkey: new Uint8Array(this.#authkey), registry: [...this.#registry.values()], maxMessageSize: this.#maxMessageSize },
      },
      execArgv: setup.execArgv,
      name: 'multiproc manager',
    })
    this.#worker = worker
    const reply = await new Promise<{ type: string; address?: Address; error?: SerializedValue; detail?: string }>((resolve) => {
      worker.once('message', resolve)
      worker.once('error', (error) => resolve({ type: 'crash', detail: String(error) }))
      worker.once('exit', (code) => resolve({ type: 'crash', detail: `exit code ${code}` }))
    })
    if (reply.type !== 'ready') {
      this.#state = 'shutdown'
      await worker.terminate()
      throw reply.error !== undefined ? deserializeError(reply.error) : new InvalidStateError(`The manager server stopped while starting (${reply.detail})`)
    }
    this.#address = reply.address!
    // The server dies with this program (like Python's manager process);
    // until then it does not by itself keep the program running.
    worker.unref()
    if (typeof this.#address === 'string') {
      const path = this.#address
      const cleanup = (): void => {
        try {
          unlinkSync(path)
        } catch {}
      }
      this.#cleanupSocket = cleanup
      process.once('exit', cleanup)
    }
  }

  /**
   * Uses a server another program started (same address and authkey);
   * checks that it answers, within `timeout` (default 20 s).
   * @example
   * const manager = new Manager({ address: { host: '10.0.0.5', port: 50000 }, authkey: 'secret' })
   * await manager.connect({ timeout: 5000 })
   * @throws AuthenticationError for a wrong key; ConnectTimeoutError when the server does not accept,
   *   finish the handshake or answer within `timeout`; CancelledError when `signal` aborts;
   *   ConnectionClosedError when nobody listens.
   */
  async connect(options: ManagerConnectOptions = {}): Promise<void> {
    const opts = plainObject('options', options)
    knownKeys('Manager.connect()', opts, keysOf<ManagerConnectOptions>({ timeout: true, signal: true }))
    const timeout = opts.timeout === undefined ? DEFAULT_CONNECT_TIMEOUT : timeoutMs('timeout', opts.timeout)
    const signal = abortSignal('signal', opts.signal)
    if (this.#state !== 'initial') throw new InvalidStateError(`connect() on a manager that is ${this.#state}`)
    const shown = formatAddress(this.#address)
    const start = performance.now()
    const client = await ManagerClient.get(this.#address, this.#authkey, { timeout, ...(signal !== undefined ? { signal } : {}) })
    // The handshake passed; a server that then never answers (not a manager) must not hang us either.
    const left = Math.max(0, timeout - (performance.now() - start))
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    try {
      await Promise.race([
        client.request({ op: 'ping' }),
        new Promise<never>((_, reject) => {
          if (Number.isFinite(left)) {
            timer = setTimeout(
              () => reject(new ConnectTimeoutError(`Connecting to ${shown} timed out after ${timeout} ms: the handshake passed but the server did not answer (is a multiproc Manager listening there?)`, { address: shown, stage: 'reply' })),
              left,
            )
          }
          onAbort = () => reject(new CancelledError(`Manager.connect() to ${shown} was aborted`, { cause: signal!.reason }))
          if (signal?.aborted) onAbort()
          else signal?.addEventListener('abort', onAbort, { once: true })
        }),
      ])
    } catch (error) {
      await ManagerClient.forget(this.#address)
      throw error
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
    this.#state = 'connected'
  }

  /** Stops the server (if this manager started it) and closes this thread's connection to it. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#state === 'shutdown' || this.#state === 'initial') {
      this.#state = 'shutdown'
      return
    }
    const started = this.#state === 'started'
    this.#state = 'shutdown'
    await ManagerClient.forget(this.#address)
    if (started && this.#worker !== null) {
      const worker = this.#worker
      worker.ref()
      const closed = new Promise<void>((resolve) => {
        worker.once('message', () => resolve())
        worker.once('exit', () => resolve())
      })
      worker.postMessage({ type: 'shutdown' })
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000).unref())])
      await worker.terminate()
      this.#worker = null
      if (this.#cleanupSocket !== null) {
        this.#cleanupSocket()
        process.off('exit', this.#cleanupSocket)
      }
    }
  }

  /** `await using manager = ...` shuts it down at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  async #create(typeid: string, args: unknown[]): Promise<BaseProxy> {
    if (this.#state !== 'started' && this.#state !== 'connected') throw new InvalidStateError(`The manager is ${this.#state}: call start() or connect() first`)
    const client = await ManagerClient.get(this.#address, this.#authkey)
    const made = (await client.request({ op: 'create', typeid, args })) as { oid: number; typeid: string; methods: string[] }
    const token: ProxyToken = { address: this.#address, authkey: new Uint8Array(this.#authkey), typeid: made.typeid, oid: made.oid, methods: made.methods }
    return makeProxy(token)
  }

  /**
   * A proxy for an object this manager's server already holds, from the
   * `typeid` and `oid` of another proxy's `token` (e.g. sent to another
   * program as JSON). The address and authkey are this manager's.
   */
  proxyFor(token: { typeid: string; oid: number; methods?: readonly string[] }): BaseProxy {
    const opts = plainObject('token', token)
    string('token.typeid', opts.typeid)
    positiveInteger('token.oid', opts.oid)
    if (this.#state !== 'started' && this.#state !== 'connected') throw new InvalidStateError(`The manager is ${this.#state}: call start() or connect() first`)
    return makeProxy({ address: this.#address, authkey: new Uint8Array(this.#authkey), typeid: token.typeid, oid: token.oid, methods: [...(token.methods ?? [])] })
  }

  /** A shared dictionary, optionally filled from a Map, entries or an object. */
  dict<K = unknown, V = unknown>(init?: Map<K, V> | [K, V][] | Record<string, V>): Promise<DictProxy<K, V>> {
    return this.#create('dict', init === undefined ? [] : [init]) as Promise<DictProxy<K, V>>
  }

  /**
   * A shared list, optionally filled from `init`.
   * @example
   * const l = await manager.list([1, 2])
   * await l.append(3)
   */
  list<T = unknown>(init?: Iterable<T>): Promise<ListProxy<T>> {
    return this.#create('list', init === undefined ? [] : [[...init]]) as Promise<ListProxy<T>>
  }

  /**
   * A shared namespace of named values (Python's `manager.Namespace()`).
   * @example
   * const ns = await manager.Namespace({ x: 1 })
   * console.log(await ns.get('x')) // 1
   */
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return this.#create('Namespace', init === undefined ? [] : [init]) as Promise<NamespaceProxy>
  }

  /** A shared queue; `maxsize` 0 (default) means unbounded. */
  Queue<T = unknown>(options: { maxsize?: number } = {}): Promise<QueueProxy<T>> {
    const opts = plainObject('options', options)
    knownKeys('Manager.Queue()', opts, ['maxsize'])
    const maxsize = opts.maxsize === undefined ? 0 : nonNegativeInteger('maxsize', opts.maxsize)
    return this.#create('Queue', [maxsize]) as Promise<QueueProxy<T>>
  }

  /** A shared lock; the server releases it if its holder's connection vanishes. */
  Lock(): Promise<LockProxy> {
    return this.#create('Lock', []) as Promise<LockProxy>
  }

  /** A shared event. */
  Event(): Promise<EventProxy> {
    return this.#create('Event', []) as Promise<EventProxy>
  }

  /** A shared value; `typecode` (e.g. 'i', 'd') is kept for Python parity, any cloneable value is allowed. */
  Value<T = unknown>(typecode: string, value: T): Promise<ValueProxy<T>> {
    string('typecode', typecode)
    return this.#create('Value', [typecode, value]) as Promise<ValueProxy<T>>
  }

  /**
   * An object of a registered type, built by its factory on the server with `args`.
   * @typeParam T - the object's type, whose methods become async methods of the proxy
   * @example
   * const board = await manager.create<Board>('board')
   * await board.post('hello')
   */
  create<T = Record<string, (...args: any[]) => any>>(typeid: string, ...args: unknown[]): Promise<AutoProxy<T>> {
    string('typeid', typeid)
    return this.#create(typeid, args) as Promise<AutoProxy<T>>
  }
}

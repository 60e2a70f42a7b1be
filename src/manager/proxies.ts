/**
 * Proxies: handles on objects that live in a Manager's server. Every method
 * is a call to the server and returns a Promise. A proxy passed to a task,
 * a Process, or into another shared object travels as its token (address,
 * authkey, object id) and is rebuilt on the other side attached to the same
 * object, from a worker thread, a child process or another machine.
 */
import type { Address } from '../connection/address.js'
import { UnsupportedBackendError } from '../errors.js'
import { kShare, registerShareable, type ShareDescriptor, type ShareTarget } from '../wire/shareable.js'
import { libraryModuleId } from '../wire/library_module.js'
import { ManagerLink } from './link.js'
import { boolean, keysOf, knownKeys, plainObject, timeoutOption } from '../internal/validate.js'

/** What identifies a shared object: where its server is and its id there. */
export interface ProxyToken {
  readonly address: Address
  readonly authkey: Uint8Array
  readonly typeid: string
  readonly oid: number
  /** Methods the object exposes (user types). */
  readonly methods: readonly string[]
}

const tokens = new WeakMap<object, ProxyToken>()

function call(proxy: object, method: string, args: unknown[]): Promise<any> {
  const token = tokens.get(proxy)!
  const link = ManagerLink.ready(token.address, token.authkey)
  if (link !== undefined) return link.request({ op: 'call', oid: token.oid, method, args })
  return ManagerLink.get(token.address, token.authkey).then((l) => l.request({ op: 'call', oid: token.oid, method, args }))
}

/** Options of blocking calls. `timeout` in ms; default: wait as long as it takes. */
export interface BlockingOptions {
  block?: boolean
  timeout?: number
}

const BLOCKING_KEYS = keysOf<BlockingOptions>({ block: true, timeout: true })

/** `[block, timeout]` from a blocking call's options, refusing unknown keys (the server checks the values). */
function blockingArgs(what: string, options: unknown): [boolean, unknown] {
  const o = plainObject('options', options)
  knownKeys(what, o, BLOCKING_KEYS)
  return [o.block === undefined ? true : boolean('options.block', o.block), o.timeout]
}

/** The common part of every proxy. */
export class BaseProxy {
  constructor(token: ProxyToken) {
    tokens.set(this, token)
  }

  /** The type of the shared object: 'dict', 'Queue', a registered typeid… */
  get typeid(): string {
    return tokens.get(this)!.typeid
  }

  /** The token that names the shared object (what travels in place of the proxy). */
  get token(): ProxyToken {
    return tokens.get(this)!
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    const t = tokens.get(this)!
    // A Unix socket is reachable only on this machine; cluster workers run elsewhere.
    if (target.backend === 'nats' && typeof t.address === 'string') {
      throw new UnsupportedBackendError(
        `A ${t.typeid} proxy cannot reach the nats backend: its Manager listens on the Unix socket ${t.address}, which only this machine reaches. ` +
          'Start the Manager on a TCP address the workers can reach: new Manager({ address: { host, port: 0 } }).',
      )
    }
    return { $: 'mp-share', module: libraryModuleId(import.meta.url), type: 'multiproc.ManagerProxy', data: { ...t, authkey: new Uint8Array(t.authkey), methods: [...t.methods] } }
  }

  toString(): string {
    const t = tokens.get(this)!
    return `<${t.typeid} proxy #${t.oid}>`
  }
}

/** A shared Map-like dictionary (Python's `manager.dict()`). Keys: primitives or arrays of primitives. */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  get(key: K): Promise<V | undefined>
  get<D>(key: K, fallback: D): Promise<V | D>
  get(key: K, fallback?: unknown): Promise<unknown> {
    return call(this, 'get', [key, fallback])
  }
  set(key: K, value: V): Promise<void> {
    return call(this, 'set', [key, value])
  }
  has(key: K): Promise<boolean> {
    return call(this, 'has', [key])
  }
  delete(key: K): Promise<boolean> {
    return call(this, 'delete', [key])
  }
  pop(key: K, fallback?: V): Promise<V | undefined> {
    return call(this, 'pop', [key, fallback])
  }
  setdefault(key: K, value: V): Promise<V> {
    return call(this, 'setdefault', [key, value])
  }
  update(entries: Iterable<[K, V]> | Record<string, V>): Promise<void> {
    return call(this, 'update', [entries instanceof Map ? entries : Symbol.iterator in Object(entries) ? [...(entries as Iterable<[K, V]>)] : entries])
  }
  keys(): Promise<K[]> {
    return call(this, 'keys', [])
  }
  values(): Promise<V[]> {
    return call(this, 'values', [])
  }
  items(): Promise<[K, V][]> {
    return call(this, 'items', [])
  }
  len(): Promise<number> {
    return call(this, 'len', [])
  }
  clear(): Promise<void> {
    return call(this, 'clear', [])
  }
  /** A local copy of the whole dict. */
  copy(): Promise<Map<K, V>> {
    return call(this, 'copy', [])
  }
}

/** A shared list (Python's `manager.list()`). Negative indexes count from the end. */
export class ListProxy<T = unknown> extends BaseProxy {
  get(index: number): Promise<T> {
    return call(this, 'get', [index])
  }
  set(index: number, value: T): Promise<void> {
    return call(this, 'set', [index, value])
  }
  append(value: T): Promise<void> {
    return call(this, 'append', [value])
  }
  extend(values: Iterable<T>): Promise<void> {
    return call(this, 'extend', [[...values]])
  }
  insert(index: number, value: T): Promise<void> {
    return call(this, 'insert', [index, value])
  }
  pop(index = -1): Promise<T> {
    return call(this, 'pop', [index])
  }
  remove(value: T): Promise<void> {
    return call(this, 'remove', [value])
  }
  index(value: T): Promise<number> {
    return call(this, 'index', [value])
  }
  count(value: T): Promise<number> {
    return call(this, 'count', [value])
  }
  len(): Promise<number> {
    return call(this, 'len', [])
  }
  slice(start?: number, end?: number): Promise<T[]> {
    return call(this, 'slice', [start, end])
  }
  reverse(): Promise<void> {
    return call(this, 'reverse', [])
  }
  clear(): Promise<void> {
    return call(this, 'clear', [])
  }
  /** A local copy of the whole list. */
  copy(): Promise<T[]> {
    return call(this, 'copy', [])
  }
}

/** Shared attributes (Python's `manager.Namespace()`): `await ns.set('x', 1)`, `await ns.get('x')`. */
export class NamespaceProxy extends BaseProxy {
  get<T = unknown>(name: string): Promise<T | undefined> {
    return call(this, 'get', [name])
  }
  set(name: string, value: unknown): Promise<void> {
    return call(this, 'set', [name, value])
  }
  has(name: string): Promise<boolean> {
    return call(this, 'has', [name])
  }
  delete(name: string): Promise<boolean> {
    return call(this, 'delete', [name])
  }
  toObject(): Promise<Record<string, unknown>> {
    return call(this, 'toObject', [])
  }
}

/** A shared FIFO queue (Python's `manager.Queue()`). Timeouts in ms; `Empty`/`Full` when they elapse. */
export class QueueProxy<T = unknown> extends BaseProxy {
  put(item: T, options: BlockingOptions = {}): Promise<void> {
    return call(this, 'put', [item, ...blockingArgs('QueueProxy.put()', options)])
  }
  get(options: BlockingOptions = {}): Promise<T> {
    return call(this, 'get', blockingArgs('QueueProxy.get()', options))
  }
  putNowait(item: T): Promise<void> {
    return call(this, 'put', [item, false])
  }
  getNowait(): Promise<T> {
    return call(this, 'get', [false])
  }
  qsize(): Promise<number> {
    return call(this, 'qsize', [])
  }
  empty(): Promise<boolean> {
    return call(this, 'empty', [])
  }
  full(): Promise<boolean> {
    return call(this, 'full', [])
  }
  taskDone(): Promise<void> {
    return call(this, 'taskDone', [])
  }
  join(): Promise<void> {
    return call(this, 'join', [])
  }
}

/** A shared lock (Python's `manager.Lock()`). Released by the server if its holder's connection vanishes. */
export class LockProxy extends BaseProxy {
  acquire(options: BlockingOptions = {}): Promise<boolean> {
    return call(this, 'acquire', blockingArgs('LockProxy.acquire()', options))
  }
  release(): Promise<void> {
    return call(this, 'release', [])
  }
  locked(): Promise<boolean> {
    return call(this, 'locked', [])
  }
}

/** A shared event (Python's `manager.Event()`). */
export class EventProxy extends BaseProxy {
  set(): Promise<void> {
    return call(this, 'set', [])
  }
  clear(): Promise<void> {
    return call(this, 'clear', [])
  }
  isSet(): Promise<boolean> {
    return call(this, 'isSet', [])
  }
  /** Resolves true when set, false when `timeout` ms elapse first. */
  wait(options: { timeout?: number } = {}): Promise<boolean> {
    return call(this, 'wait', [timeoutOption('EventProxy.wait()', options)])
  }
}

/** A shared value (Python's `manager.Value(typecode, value)`). */
export class ValueProxy<T = unknown> extends BaseProxy {
  get(): Promise<T> {
    return call(this, 'get', [])
  }
  set(value: T): Promise<void> {
    return call(this, 'set', [value])
  }
  /** Adds `delta` on the server in one step and returns the new value. */
  add(delta: number): Promise<number> {
    return call(this, 'add', [delta])
  }
}

/** A proxy of a registered type: each exposed method `m` becomes `proxy.m(...args): Promise`. */
export type AutoProxy<T = Record<string, (...args: any[]) => any>> = BaseProxy & {
  [K in keyof T as T[K] extends (...args: any[]) => any ? K : never]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never
}

function autoProxy(token: ProxyToken): BaseProxy {
  const base = new BaseProxy(token)
  const methods = new Set(token.methods)
  const bound = new Map<string, (...args: unknown[]) => Promise<unknown>>()
  return new Proxy(base, {
    get(target, prop) {
      if (typeof prop === 'string' && methods.has(prop)) {
        let fn = bound.get(prop)
        if (fn === undefined) bound.set(prop, (fn = (...args: unknown[]) => call(base, prop, args)))
        return fn
      }
      return Reflect.get(target, prop, target)
    },
  })
}

const classes: Record<string, new (token: ProxyToken) => BaseProxy> = {
  dict: DictProxy,
  list: ListProxy,
  Namespace: NamespaceProxy,
  Queue: QueueProxy,
  Lock: LockProxy,
  Event: EventProxy,
  Value: ValueProxy,
}

/** The proxy for a token: a built-in proxy class, or an AutoProxy for a registered type. */
export function makeProxy(token: ProxyToken): BaseProxy {
  const cls = classes[token.typeid]
  if (cls !== undefined) {
    const proxy = new cls(token)
    return proxy
  }
  const proxy = autoProxy(token)
  tokens.set(proxy, token)
  return proxy
}

registerShareable('multiproc.ManagerProxy', (data) => makeProxy(data as ProxyToken))

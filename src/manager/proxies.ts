/**
 * Proxies: handles on objects that live in a Manager's server. Every method
 * is a call to the server and returns a Promise. A proxy passed to a task,
 * a Process, or into another shared object travels as its token (address,
 * authkey, object id) and is rebuilt on the other side attached to the same
 * object, from a worker thread, a child process or another machine.
 */
import type { Address } from '../connection/address.js'
import { UnsupportedBackendError } from '../errors.js'
import { kShare, registerShareable, targetName, type ShareDescriptor, type ShareTarget } from '../wire/shareable.js'
import { libraryModuleId } from '../wire/library_module.js'
import { ManagerClient } from './client.js'
import { boolean, keysOf, knownKeys, plainObject, timeoutOption } from '../internal/validate.js'

/** What identifies a shared object: where its server is and its id there. */
export interface ProxyToken {
  /** Where the Manager's server listens. */
  readonly address: Address
  /** The key that authenticates every connection to it. */
  readonly authkey: Uint8Array
  /** The type of the shared object. */
  readonly typeid: string
  /** The object's id on the server. */
  readonly oid: number
  /** Methods the object exposes (user types). */
  readonly methods: readonly string[]
}

const tokens = new WeakMap<object, ProxyToken>()

function call(proxy: object, method: string, args: unknown[]): Promise<any> {
  const token = tokens.get(proxy)!
  const client = ManagerClient.ready(token.address, token.authkey)
  if (client !== undefined) return client.request({ op: 'call', oid: token.oid, method, args })
  return ManagerClient.get(token.address, token.authkey).then((l) => l.request({ op: 'call', oid: token.oid, method, args }))
}

/** Options of blocking calls. `timeout` in ms; default: wait as long as it takes. */
export interface BlockingOptions {
  /** Wait for the item or the lock (default true); false: take it only if it is there now. */
  block?: boolean
  /** Give up after this many milliseconds (default: wait as long as it takes). */
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
    // A Unix socket is reachable only on this machine; workers elsewhere (the cluster's) cannot connect to it.
    if (!target.sameMachine && typeof t.address === 'string') {
      throw new UnsupportedBackendError(
        `A ${t.typeid} proxy cannot reach the ${targetName(target)} backend: its Manager listens on the Unix socket ${t.address}, which only this machine reaches. ` +
          'Start the Manager on a TCP address the workers can reach: new Manager({ address: { host, port: 0 } }).',
      )
    }
    return { $: 'mp-share', module: libraryModuleId(import.meta.url), type: 'multiproc.ManagerProxy', data: { ...t, authkey: new Uint8Array(t.authkey), methods: [...t.methods] } }
  }

  /** `<dict proxy #3>`: the type and the object id. */
  toString(): string {
    const t = tokens.get(this)!
    return `<${t.typeid} proxy #${t.oid}>`
  }
}

/** A shared Map-like dictionary (Python's `manager.dict()`). Keys: primitives or arrays of primitives. */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  /** The value of `key`, or `fallback` (default undefined) when it is absent. */
  get(key: K): Promise<V | undefined>
  /** The value of `key`, or `fallback` (default undefined) when it is absent. */
  get<D>(key: K, fallback: D): Promise<V | D>
  /** The value of `key`, or `fallback` (default undefined) when it is absent. */
  get(key: K, fallback?: unknown): Promise<unknown> {
    return call(this, 'get', [key, fallback])
  }
  /** Sets `key` to `value` (Python's `d[key] = value`). */
  set(key: K, value: V): Promise<void> {
    return call(this, 'set', [key, value])
  }
  /** Whether `key` is present (Python's `key in d`). */
  has(key: K): Promise<boolean> {
    return call(this, 'has', [key])
  }
  /** Removes `key`; resolves true if it was present. */
  delete(key: K): Promise<boolean> {
    return call(this, 'delete', [key])
  }
  /** Removes `key` and resolves to its value, or to `fallback` when absent. */
  pop(key: K, fallback?: V): Promise<V | undefined> {
    return call(this, 'pop', [key, fallback])
  }
  /** The value of `key`, setting it to `value` first when absent. */
  setdefault(key: K, value: V): Promise<V> {
    return call(this, 'setdefault', [key, value])
  }
  /** Sets every entry of a Map, an iterable of pairs or an object. */
  update(entries: Iterable<[K, V]> | Record<string, V>): Promise<void> {
    return call(this, 'update', [entries instanceof Map ? entries : Symbol.iterator in Object(entries) ? [...(entries as Iterable<[K, V]>)] : entries])
  }
  /** The keys, in insertion order. */
  keys(): Promise<K[]> {
    return call(this, 'keys', [])
  }
  /** The values, in insertion order. */
  values(): Promise<V[]> {
    return call(this, 'values', [])
  }
  /** The `[key, value]` pairs, in insertion order. */
  items(): Promise<[K, V][]> {
    return call(this, 'items', [])
  }
  /** The number of entries (Python's `len(d)`). */
  len(): Promise<number> {
    return call(this, 'len', [])
  }
  /** Removes every entry. */
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
  /** The item at `index` (negative counts from the end). */
  get(index: number): Promise<T> {
    return call(this, 'get', [index])
  }
  /** Replaces the item at `index`. */
  set(index: number, value: T): Promise<void> {
    return call(this, 'set', [index, value])
  }
  /** Adds `value` at the end. */
  append(value: T): Promise<void> {
    return call(this, 'append', [value])
  }
  /** Adds every value at the end. */
  extend(values: Iterable<T>): Promise<void> {
    return call(this, 'extend', [[...values]])
  }
  /** Inserts `value` before `index`. */
  insert(index: number, value: T): Promise<void> {
    return call(this, 'insert', [index, value])
  }
  /** Removes and resolves to the item at `index` (default: the last). */
  pop(index = -1): Promise<T> {
    return call(this, 'pop', [index])
  }
  /** Removes the first item equal to `value`. */
  remove(value: T): Promise<void> {
    return call(this, 'remove', [value])
  }
  /** The index of the first item equal to `value`. */
  index(value: T): Promise<number> {
    return call(this, 'index', [value])
  }
  /** How many items equal `value`. */
  count(value: T): Promise<number> {
    return call(this, 'count', [value])
  }
  /** The number of items. */
  len(): Promise<number> {
    return call(this, 'len', [])
  }
  /** A local copy of the items from `start` to `end` (as `Array.prototype.slice`). */
  slice(start?: number, end?: number): Promise<T[]> {
    return call(this, 'slice', [start, end])
  }
  /** Reverses the list in place. */
  reverse(): Promise<void> {
    return call(this, 'reverse', [])
  }
  /** Removes every item. */
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
  /** The value of attribute `name` (undefined when absent). */
  get<T = unknown>(name: string): Promise<T | undefined> {
    return call(this, 'get', [name])
  }
  /** Sets attribute `name` (Python's `ns.name = value`). */
  set(name: string, value: unknown): Promise<void> {
    return call(this, 'set', [name, value])
  }
  /** Whether attribute `name` exists. */
  has(name: string): Promise<boolean> {
    return call(this, 'has', [name])
  }
  /** Removes attribute `name`; resolves true if it existed. */
  delete(name: string): Promise<boolean> {
    return call(this, 'delete', [name])
  }
  /** A local copy of every attribute. */
  toObject(): Promise<Record<string, unknown>> {
    return call(this, 'toObject', [])
  }
}

/** A shared FIFO queue (Python's `manager.Queue()`). Timeouts in ms; `Empty`/`Full` when they elapse. */
export class QueueProxy<T = unknown> extends BaseProxy {
  /**
   * Puts `item`, waiting while the queue is full (`block`, `timeout` in ms).
   * @throws Full when the timeout passes, or at once when not `block`
   * @throws RangeError for an unknown option
   */
  put(item: T, options: BlockingOptions = {}): Promise<void> {
    return call(this, 'put', [item, ...blockingArgs('QueueProxy.put()', options)])
  }
  /**
   * Takes the next item, waiting while the queue is empty (`block`, `timeout` in ms).
   * @throws Empty when the timeout passes, or at once when not `block`
   * @throws RangeError for an unknown option
   */
  get(options: BlockingOptions = {}): Promise<T> {
    return call(this, 'get', blockingArgs('QueueProxy.get()', options))
  }
  /**
   * Puts `item` without waiting.
   * @throws Full when the queue is full
   */
  putNowait(item: T): Promise<void> {
    return call(this, 'put', [item, false])
  }
  /**
   * Takes the next item without waiting.
   * @throws Empty when the queue is empty
   */
  getNowait(): Promise<T> {
    return call(this, 'get', [false])
  }
  /** The number of items. */
  qsize(): Promise<number> {
    return call(this, 'qsize', [])
  }
  /** Whether the queue is empty. */
  empty(): Promise<boolean> {
    return call(this, 'empty', [])
  }
  /** Whether the queue is full. */
  full(): Promise<boolean> {
    return call(this, 'full', [])
  }
  /** Says one item taken is fully processed (for `join()`). */
  taskDone(): Promise<void> {
    return call(this, 'taskDone', [])
  }
  /** Resolves once every item put has had its `taskDone()`. */
  join(): Promise<void> {
    return call(this, 'join', [])
  }
}

/** A shared lock (Python's `manager.Lock()`). Released by the server if its holder's connection vanishes. */
export class LockProxy extends BaseProxy {
  /**
   * Resolves true once held; false when `timeout` passes or, when not `block`, when it is taken.
   * @throws RangeError for an unknown option
   */
  acquire(options: BlockingOptions = {}): Promise<boolean> {
    return call(this, 'acquire', blockingArgs('LockProxy.acquire()', options))
  }
  /**
   * Releases the lock.
   * @throws NotHeldError when it is not locked
   */
  release(): Promise<void> {
    return call(this, 'release', [])
  }
  /** Whether it is held. */
  locked(): Promise<boolean> {
    return call(this, 'locked', [])
  }
}

/** A shared event (Python's `manager.Event()`). */
export class EventProxy extends BaseProxy {
  /** Sets the flag and wakes every waiter. */
  set(): Promise<void> {
    return call(this, 'set', [])
  }
  /** Clears the flag. */
  clear(): Promise<void> {
    return call(this, 'clear', [])
  }
  /** Whether the flag is set. */
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
  /** The value. */
  get(): Promise<T> {
    return call(this, 'get', [])
  }
  /** Replaces the value. */
  set(value: T): Promise<void> {
    return call(this, 'set', [value])
  }
  /** Adds `delta` on the server in one step and returns the new value. */
  add(delta: number): Promise<number> {
    return call(this, 'add', [delta])
  }
}

/**
 * A proxy of a registered type: each exposed method `m` becomes `proxy.m(...args): Promise`.
 * @typeParam T - the type the factory returns
 */
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

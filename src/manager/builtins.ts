/**
 * The objects a Manager's server holds for its built-in proxies: dict, list,
 * Namespace, Queue, Lock, Event, Value. They live in the server thread only.
 *
 * Each method takes the caller's `Caller` first: blocking calls (a Queue
 * `get`, a Lock `acquire`, an Event `wait`) park a waiter tagged with the
 * connection, and when that connection goes away its waiters are dropped
 * (an item is never handed to a client that vanished) and the locks it held
 * are released (a killed client cannot deadlock the others).
 */
import { Empty, Full, invalidArgType, invalidArgValue, TooManyReleasesError, NotHeldError } from '../errors.js'
import { Deque } from '../internal/deque.js'

/** The connection a call came from. */
export interface Caller {
  /** Registers cleanup for when the connection goes away; returns the unregister function. */
  onGone(cleanup: () => void): () => void
}

type Waiter<T> = { caller: Caller; resolve(value: T): void; cancel(): void }

function park<T>(list: Set<Waiter<T>> | Deque<Waiter<T>>, caller: Caller, timeout: number | null, onTimeout: () => T | Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const remove = (): void => {
      if (list instanceof Set) list.delete(waiter)
      else waiter.cancel = () => {} // a Deque entry is skipped once cancelled
    }
    const unGone = caller.onGone(() => {
      clearTimeout(timer)
      cancelled = true
      remove()
    })
    let cancelled = false
    const waiter: Waiter<T> = {
      caller,
      resolve: (value) => {
        clearTimeout(timer)
        unGone()
        resolve(value)
      },
      cancel: () => {},
    }
    Object.defineProperty(waiter, 'live', { get: () => !cancelled })
    if (timeout !== null) {
      timer = setTimeout(() => {
        cancelled = true
        remove()
        unGone()
        const out = onTimeout()
        if (out instanceof Error) reject(out)
        else resolve(out)
      }, timeout)
    }
    if (list instanceof Set) list.add(waiter)
    else list.push(waiter)
  })
}

function live<T>(w: Waiter<T>): boolean {
  return (w as unknown as { live: boolean }).live
}

function nextLive<T>(q: Deque<Waiter<T>>): Waiter<T> | undefined {
  for (let w = q.shift(); w !== undefined; w = q.shift()) if (live(w)) return w
  return undefined
}

function timeoutArg(value: unknown): number | null {
  if (value === undefined || value === null || value === Infinity) return null
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) throw invalidArgValue(`Expected \`timeout\` to be a number of milliseconds >= 0, got ${String(value)}`)
  return value
}

/** Map keys by value: primitives as themselves, arrays (Python's tuples) by content. */
function keyOf(key: unknown): unknown {
  if (key === null || typeof key !== 'object') return key
  if (Array.isArray(key)) return `\u0000tuple:${JSON.stringify(key)}`
  throw invalidArgType(`Expected a dict key to be a primitive or an array of primitives, got ${Object.prototype.toString.call(key)}`)
}

export class ServerDict {
  readonly #map = new Map<unknown, [unknown, unknown]>()
  constructor(init?: unknown) {
    if (init !== undefined && init !== null) this.update(null, init)
  }
  get(_c: Caller, key: unknown, fallback?: unknown): unknown {
    const e = this.#map.get(keyOf(key))
    return e === undefined ? fallback : e[1]
  }
  set(_c: Caller, key: unknown, value: unknown): void {
    this.#map.set(keyOf(key), [key, value])
  }
  has(_c: Caller, key: unknown): boolean {
    return this.#map.has(keyOf(key))
  }
  delete(_c: Caller, key: unknown): boolean {
    return this.#map.delete(keyOf(key))
  }
  pop(_c: Caller, key: unknown, fallback?: unknown): unknown {
    const k = keyOf(key)
    const e = this.#map.get(k)
    if (e === undefined) return fallback
    this.#map.delete(k)
    return e[1]
  }
  setdefault(_c: Caller, key: unknown, value: unknown): unknown {
    const k = keyOf(key)
    const e = this.#map.get(k)
    if (e !== undefined) return e[1]
    this.#map.set(k, [key, value])
    return value
  }
  update(_c: Caller | null, other: unknown): void {
    const entries = other instanceof Map ? [...other] : Array.isArray(other) ? other : Object.entries(other as object)
    for (const [k, v] of entries as [unknown, unknown][]) this.#map.set(keyOf(k), [k, v])
  }
  keys(): unknown[] {
    return [...this.#map.values()].map((e) => e[0])
  }
  values(): unknown[] {
    return [...this.#map.values()].map((e) => e[1])
  }
  items(): [unknown, unknown][] {
    return [...this.#map.values()].map((e) => [e[0], e[1]])
  }
  len(): number {
    return this.#map.size
  }
  clear(): void {
    this.#map.clear()
  }
  copy(): Map<unknown, unknown> {
    return new Map(this.#map.values())
  }
}

export class ServerList {
  readonly #items: unknown[]
  constructor(init?: unknown) {
    this.#items = init === undefined || init === null ? [] : [...(init as Iterable<unknown>)]
  }
  #at(index: unknown): number {
    if (typeof index !== 'number' || !Number.isInteger(index)) throw invalidArgType(`Expected \`index\` to be an integer, got ${String(index)}`)
    const i = index < 0 ? this.#items.length + index : index
    if (i < 0 || i >= this.#items.length) throw invalidArgValue(`Expected \`index\` to be within the list's ${this.#items.length} items, got ${index}`)
    return i
  }
  get(_c: Caller, index: number): unknown {
    return this.#items[this.#at(index)]
  }
  set(_c: Caller, index: number, value: unknown): void {
    this.#items[this.#at(index)] = value
  }
  append(_c: Caller, value: unknown): void {
    this.#items.push(value)
  }
  extend(_c: Caller, values: unknown[]): void {
    for (const v of values) this.#items.push(v)
  }
  insert(_c: Caller, index: number, value: unknown): void {
    this.#items.splice(index < 0 ? Math.max(0, this.#items.length + index) : Math.min(index, this.#items.length), 0, value)
  }
  pop(_c: Caller, index = -1): unknown {
    if (this.#items.length === 0) throw invalidArgValue('Expected a non-empty list to pop from, got an empty list')
    return this.#items.splice(this.#at(index), 1)[0]
  }
  remove(c: Caller, value: unknown): void {
    this.#items.splice(this.index(c, value), 1)
  }
  index(_c: Caller, value: unknown): number {
    const i = this.#items.findIndex((x) => Object.is(x, value) || x === value)
    if (i < 0) throw invalidArgValue(`Expected \`value\` to be in the list, got ${String(value)}`)
    return i
  }
  count(_c: Caller, value: unknown): number {
    return this.#items.filter((x) => Object.is(x, value) || x === value).length
  }
  len(): number {
    return this.#items.length
  }
  slice(_c: Caller, start?: number, end?: number): unknown[] {
    return this.#items.slice(start, end)
  }
  reverse(): void {
    this.#items.reverse()
  }
  clear(): void {
    this.#items.length = 0
  }
  copy(): unknown[] {
    return [...this.#items]
  }
}

export class ServerNamespace {
  readonly #attrs = new Map<string, unknown>()
  constructor(init?: unknown) {
    if (init !== undefined && init !== null) for (const [k, v] of Object.entries(init as object)) this.#attrs.set(k, v)
  }
  get(_c: Caller, name: string): unknown {
    return this.#attrs.get(name)
  }
  set(_c: Caller, name: string, value: unknown): void {
    this.#attrs.set(String(name), value)
  }
  delete(_c: Caller, name: string): boolean {
    return this.#attrs.delete(name)
  }
  has(_c: Caller, name: string): boolean {
    return this.#attrs.has(name)
  }
  toObject(): Record<string, unknown> {
    return Object.fromEntries(this.#attrs)
  }
}

export class ServerQueue {
  readonly #items = new Deque<unknown>()
  readonly #getters = new Deque<Waiter<unknown>>()
  readonly #putters = new Deque<Waiter<void>>()
  readonly #putItems = new Map<Waiter<void>, unknown>()
  readonly #maxsize: number
  #unfinished = 0
  readonly #joiners = new Set<Waiter<void>>()

  constructor(maxsize?: unknown) {
    this.#maxsize = typeof maxsize === 'number' && maxsize > 0 ? maxsize : Infinity
  }
  #full(): boolean {
    return this.#items.length >= this.#maxsize
  }
  #accept(item: unknown): void {
    this.#unfinished++
    const getter = nextLive(this.#getters)
    if (getter !== undefined) getter.resolve(item)
    else this.#items.push(item)
  }
  #admitPutters(): void {
    while (!this.#full()) {
      const putter = nextLive(this.#putters)
      if (putter === undefined) return
      const item = this.#putItems.get(putter)
      this.#putItems.delete(putter)
      this.#accept(item)
      putter.resolve()
    }
  }
  put(caller: Caller, item: unknown, block = true, timeout?: number): Promise<void> | void {
    if (!this.#full()) return this.#accept(item)
    if (!block) throw new Full()
    const t = timeoutArg(timeout)
    const promise = park<void>(this.#putters, caller, t, () => new Full())
    // The waiter just pushed is the last one; remember its item.
    const waiter = this.#putters.at(this.#putters.length - 1)!
    this.#putItems.set(waiter, item)
    return promise.finally(() => this.#putItems.delete(waiter))
  }
  get(caller: Caller, block = true, timeout?: number): Promise<unknown> | unknown {
    if (this.#items.length > 0) {
      const item = this.#items.shift()
      this.#admitPutters()
      return item
    }
    if (!block) throw new Empty()
    return park<unknown>(this.#getters, caller, timeoutArg(timeout), () => new Empty())
  }
  qsize(): number {
    return this.#items.length
  }
  empty(): boolean {
    return this.#items.length === 0
  }
  full(): boolean {
    return this.#full()
  }
  taskDone(): void {
    if (this.#unfinished <= 0) throw new TooManyReleasesError('taskDone() was called more times than there were items')
    if (--this.#unfinished === 0) for (const j of [...this.#joiners]) j.resolve()
  }
  join(caller: Caller): Promise<void> | void {
    if (this.#unfinished === 0) return
    return park<void>(this.#joiners, caller, null, () => undefined)
  }
}

export class ServerLock {
  #holder: Caller | null = null
  #unGone: (() => void) | null = null
  readonly #waiters = new Deque<Waiter<boolean>>()

  #take(caller: Caller): void {
    this.#holder = caller
    // A client that vanishes while holding the lock releases it.
    this.#unGone = caller.onGone(() => {
      if (this.#holder === caller) this.#release()
    })
  }
  #release(): void {
    this.#unGone?.()
    this.#unGone = null
    this.#holder = null
    const next = nextLive(this.#waiters)
    if (next !== undefined) {
      this.#take(next.caller)
      next.resolve(true)
    }
  }
  acquire(caller: Caller, block = true, timeout?: number): Promise<boolean> | boolean {
    if (this.#holder === null) {
      this.#take(caller)
      return true
    }
    if (!block) return false
    return park<boolean>(this.#waiters, caller, timeoutArg(timeout), () => false)
  }
  release(): void {
    if (this.#holder === null) throw new NotHeldError('release() of an unlocked Lock')
    this.#release()
  }
  locked(): boolean {
    return this.#holder !== null
  }
}

export class ServerEvent {
  #flag = false
  readonly #waiters = new Set<Waiter<boolean>>()
  set(): void {
    this.#flag = true
    for (const w of [...this.#waiters]) w.resolve(true)
    this.#waiters.clear()
  }
  clear(): void {
    this.#flag = false
  }
  isSet(): boolean {
    return this.#flag
  }
  wait(caller: Caller, timeout?: number): Promise<boolean> | boolean {
    if (this.#flag) return true
    return park<boolean>(this.#waiters, caller, timeoutArg(timeout), () => false)
  }
}

export class ServerValue {
  #value: unknown
  readonly typecode: string
  constructor(typecode?: unknown, value?: unknown) {
    this.typecode = typeof typecode === 'string' ? typecode : 'any'
    this.#value = value
  }
  get(): unknown {
    return this.#value
  }
  set(_c: Caller, value: unknown): void {
    this.#value = value
  }
  /** Adds `delta` and returns the new value, in one step (no lock needed). */
  add(_c: Caller, delta: number): number {
    this.#value = (this.#value as number) + delta
    return this.#value as number
  }
}

/** typeid → constructor of the server object, for the built-in proxies. */
export const builtinTypes: Record<string, new (...args: any[]) => object> = {
  dict: ServerDict,
  list: ServerList,
  Namespace: ServerNamespace,
  Queue: ServerQueue,
  Lock: ServerLock,
  Event: ServerEvent,
  Value: ServerValue,
}

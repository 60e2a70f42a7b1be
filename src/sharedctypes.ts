/**
 * Python's `multiprocessing.Value`, `Array`, `RawValue` and `RawArray`:
 * typed numbers shared by every worker and changed in place.
 *
 * Two kinds of memory, chosen by the context that makes them:
 *
 *   threads (the default):     a SharedArrayBuffer; workers see the same memory
 *   processes (getContext('process').Value, or `processShared: true`):
 *                              a file in /dev/shm (RAM), read and written with
 *                              pread/pwrite by every process and thread that has it
 *
 * Reads and writes stay synchronous (`v.value += 1`) in both, as in Python;
 * like Python, `+=` is a read then a write: hold `getLock()` around it.
 * Values and arrays with a lock (the default) carry an RLock, or the lock
 * given, which travels with them.
 */
import { existsSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { UnsupportedBackendError, invalidArgType, invalidArgValue } from './errors.js'
import { describe, plainObject, knownKeys } from './internal/validate.js'
import { kShare, registerShareable, targetName, type ShareDescriptor, type ShareTarget } from './wire/shareable.js'
import { Lock } from './sync/lock.js'
import { RLock } from './sync/rlock.js'
import { reviveAs, type PrimitiveData } from './sync/primitive.js'

/** Element types: Python's typecodes spelled as TypedArray names. */
export type CType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64' | 'bigint64' | 'biguint64'
/** A CType or one of Python's single-letter typecodes. */
export type TypeCode = CType | 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'f' | 'd' | 'q' | 'Q'
/** What an element of type `T` reads as: bigint for the 64-bit integer types, number otherwise. */
export type ElementOf<T extends TypeCode> = T extends 'bigint64' | 'biguint64' | 'q' | 'Q' ? bigint : number

const CTYPES: Record<CType, { size: number; view: new (b: SharedArrayBuffer) => { [i: number]: number | bigint; length: number }; get: string; set: string; big: boolean }> = {
  i8: { size: 1, view: Int8Array, get: 'getInt8', set: 'setInt8', big: false },
  u8: { size: 1, view: Uint8Array, get: 'getUint8', set: 'setUint8', big: false },
  i16: { size: 2, view: Int16Array, get: 'getInt16', set: 'setInt16', big: false },
  u16: { size: 2, view: Uint16Array, get: 'getUint16', set: 'setUint16', big: false },
  i32: { size: 4, view: Int32Array, get: 'getInt32', set: 'setInt32', big: false },
  u32: { size: 4, view: Uint32Array, get: 'getUint32', set: 'setUint32', big: false },
  f32: { size: 4, view: Float32Array, get: 'getFloat32', set: 'setFloat32', big: false },
  f64: { size: 8, view: Float64Array, get: 'getFloat64', set: 'setFloat64', big: false },
  bigint64: { size: 8, view: BigInt64Array, get: 'getBigInt64', set: 'setBigInt64', big: true },
  biguint64: { size: 8, view: BigUint64Array, get: 'getBigUint64', set: 'setBigUint64', big: true },
} as never

/** Python's single-letter typecodes, accepted too. */
const ALIASES: Record<string, CType> = { b: 'i8', B: 'u8', h: 'i16', H: 'u16', i: 'i32', I: 'u32', l: 'i32', L: 'u32', f: 'f32', d: 'f64', q: 'bigint64', Q: 'biguint64' }

function ctype(value: unknown): CType {
  // Python's letters map to the names above.
  if (typeof value === 'string') {
    if (value in CTYPES) return value as CType
    if (value in ALIASES) return ALIASES[value]!
  }
  throw invalidArgType(`Expected \`type\` to be one of ${Object.keys(CTYPES).map((k) => `'${k}'`).join(', ')} (or a Python typecode such as 'i' or 'd'), got ${describe(value)}`)
}

/** Where the numbers live: shared memory or a shared file. */
interface Storage {
  get(i: number): number | bigint
  set(i: number, v: number | bigint): void
  share(target: ShareTarget): unknown
}

class MemoryStorage implements Storage {
  readonly #view: { [i: number]: number | bigint }
  readonly #buffer: SharedArrayBuffer
  constructor(type: CType, buffer: SharedArrayBuffer) {
    this.#buffer = buffer
    this.#view = new CTYPES[type].view(buffer)
  }
  get(i: number): number | bigint {
    return this.#view[i]!
  }
  set(i: number, v: number | bigint): void {
    this.#view[i] = v
  }
  share(target: ShareTarget): unknown {
    if (!target.sharedMemory) {
      throw new UnsupportedBackendError(
        `This shared value lives in memory that a ${targetName(target)} worker cannot reach; create it with getContext('process').Value / .Array (or the option processShared: true) to share it with child processes`,
      )
    }
    return { m: this.#buffer }
  }
}

const ownedFiles = new Set<string>()
let cleanupInstalled = false
const openFiles = new Map<string, number>()

class FileStorage implements Storage {
  readonly #fd: number
  readonly #path: string
  readonly #size: number
  readonly #cell: DataView
  readonly #get: (o: number, le: boolean) => number | bigint
  readonly #set: (o: number, v: number | bigint, le: boolean) => void

  constructor(type: CType, path: string, fd: number) {
    const t = CTYPES[type]
    this.#path = path
    this.#fd = fd
    this.#size = t.size
    this.#cell = new DataView(new ArrayBuffer(8))
    this.#get = (this.#cell as unknown as Record<string, (o: number, le: boolean) => number | bigint>)[t.get]!.bind(this.#cell)
    this.#set = (this.#cell as unknown as Record<string, (o: number, v: number | bigint, le: boolean) => void>)[t.set]!.bind(this.#cell)
  }

  static create(type: CType, length: number): FileStorage {
    const dir = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
    const path = join(dir, `multiproc-${process.pid}-${randomBytes(6).toString('hex')}`)
    const fd = openSync(path, 'w+', 0o600)
    writeSync(fd, new Uint8Array(Math.max(1, CTYPES[type].size * length)), 0, undefined, 0)
    // On Linux the file is unlinked at once and children open it through this
    // process's descriptor (/proc/<pid>/fd/<fd>): nothing is left in /dev/shm
    // even when the program is killed. Elsewhere it is unlinked at exit.
    const viaProc = `/proc/${process.pid}/fd/${fd}`
    if (existsSync(viaProc)) {
      try {
        unlinkSync(path)
        openFiles.set(viaProc, fd)
        return new FileStorage(type, viaProc, fd)
      } catch {
        // keep the named file
      }
    }
    ownedFiles.add(path)
    openFiles.set(path, fd)
    if (!cleanupInstalled) {
      cleanupInstalled = true
      process.on('exit', () => {
        for (const p of ownedFiles) {
          try {
            unlinkSync(p)
          } catch {
            // already gone
          }
        }
      })
    }
    return new FileStorage(type, path, fd)
  }

  static open(type: CType, path: string): FileStorage {
    // One descriptor per file and process (threads share descriptors).
    let fd = openFiles.get(path)
    if (fd === undefined) {
      fd = openSync(path, 'r+')
      openFiles.set(path, fd)
    }
    return new FileStorage(type, path, fd)
  }

  get(i: number): number | bigint {
    readSync(this.#fd, this.#cell, 0, this.#size, i * this.#size)
    return this.#get(0, true)
  }

  set(i: number, v: number | bigint): void {
    this.#set(0, v, true)
    writeSync(this.#fd, this.#cell, 0, this.#size, i * this.#size)
  }

  share(target: ShareTarget): unknown {
    // A file on this machine's disk: any worker on this machine can open it.
    if (!target.sameMachine) {
      throw new UnsupportedBackendError(`A shared value lives on this machine and cannot be passed to the ${targetName(target)} backend`)
    }
    return { f: this.#path }
  }
}

/** Options of `Value` and `Array`. */
export interface SharedOptions {
  /**
   * true (default): a new RLock guards it (`getLock()`); a Lock or RLock: that one;
   * false: no lock (a Raw value).
   */
  lock?: boolean | Lock | RLock
  /** Keep it in a shared file that child processes can open (what getContext('process') makes). */
  processShared?: boolean
}

function parseShared(options: unknown, what: string): { lock: Lock | RLock | null; processShared: boolean } {
  const o = plainObject('options', options)
  knownKeys(what, o, ['lock', 'processShared'])
  const l = o.lock
  let lock: Lock | RLock | null
  if (l === undefined || l === true) lock = new RLock()
  else if (l === false) lock = null
  else if (l instanceof Lock || l instanceof RLock) lock = l
  else throw invalidArgType(`Expected \`options.lock\` to be a boolean, a Lock or an RLock, got ${describe(l)}`)
  return { lock, processShared: o.processShared === true }
}

function checkNumber(type: CType, v: unknown, name: string): number | bigint {
  if (CTYPES[type].big ? typeof v !== 'bigint' : typeof v !== 'number') {
    throw invalidArgType(`Expected \`${name}\` to be a ${CTYPES[type].big ? 'bigint' : 'number'} for type '${type}', got ${describe(v)}`)
  }
  return v as number | bigint
}

interface SharedData {
  type: CType
  length: number
  store: { m?: SharedArrayBuffer; f?: string }
  lock: ShareDescriptor | null
}

let reviving: { storage: Storage; lock: Lock | RLock | null } | null = null

function reviveLock(d: ShareDescriptor | null): Lock | RLock | null {
  if (d === null) return null
  return d.type === 'multiproc.RLock' ? reviveAs(RLock, d.data as PrimitiveData) : reviveAs(Lock, d.data as PrimitiveData)
}

function reviveStorage(data: SharedData): Storage {
  return data.store.m !== undefined ? new MemoryStorage(data.type, data.store.m) : FileStorage.open(data.type, data.store.f!)
}

/**
 * A shared number, Python's `multiprocessing.Value`.
 *
 * @example
 * const counter = new Value('i32', 0)
 * await using _ = await counter.getLock().hold()
 * counter.value += 1
 */
export class Value<T extends TypeCode = TypeCode> {
  readonly #type: CType
  readonly #storage: Storage
  readonly #lock: Lock | RLock | null

  constructor(type: T, init?: ElementOf<T>, options: SharedOptions = {}) {
    if (reviving !== null) {
      const r = reviving
      reviving = null
      this.#type = type as CType
      this.#storage = r.storage
      this.#lock = r.lock
      return
    }
    this.#type = ctype(type)
    const { lock, processShared } = parseShared(options, 'Value')
    this.#lock = lock
    this.#storage = processShared ? FileStorage.create(this.#type, 1) : new MemoryStorage(this.#type, new SharedArrayBuffer(CTYPES[this.#type].size))
    if (init !== undefined) this.#storage.set(0, checkNumber(this.#type, init, 'init'))
  }

  /** The current value, read from shared memory. */
  get value(): ElementOf<T> {
    return this.#storage.get(0) as ElementOf<T>
  }

  /** Writes the value (one write; hold `getLock()` for a read-modify-write). */
  set value(v: ElementOf<T>) {
    this.#storage.set(0, checkNumber(this.#type, v, 'value'))
  }

  /** The element type. */
  get type(): CType {
    return this.#type
  }

  /**
   * The lock that guards this value.
   * @throws TypeError (code `ERR_MP_NO_LOCK`) for a value made without one
   *   (`lock: false`, or RawValue): Python's such value has no `get_lock` at
   *   all, and calling it raises AttributeError, whose JavaScript form is a
   *   TypeError ("not a function")
   * @example
   * const counter = new Value('i32', 0)
   * await using _ = await counter.getLock().hold()
   */
  getLock(): Lock | RLock {
    if (this.#lock === null) throw invalidArgType('This value has no lock (it was made with lock: false, or with RawValue); make it with a lock to call getLock()', 'ERR_MP_NO_LOCK')
    return this.#lock
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    const data: SharedData = { type: this.#type, length: 1, store: this.#storage.share(target) as SharedData['store'], lock: this.#lock?.[kShare](target) ?? null }
    return { $: 'mp-share', module: import.meta.url, type: 'multiproc.Value', data }
  }

  /** `Value('i', 3)`. */
  toString(): string {
    return `Value(${this.#type}, ${String(this.value)})`
  }
}

/** A shared number without a lock: Python's `RawValue`. */
export function RawValue<T extends TypeCode>(type: T, init?: ElementOf<T>, options: Omit<SharedOptions, 'lock'> = {}): Value<T> {
  return new Value<T>(type, init, { ...options, lock: false })
}

/**
 * A fixed-length shared array of numbers, Python's `multiprocessing.Array`
 * (exported as `Array` and as `SharedArray`, so it need not shadow the
 * global `Array`). Indexable (`a[3] = 1`), iterable, with `length`.
 *
 * @example
 * const a = new SharedArray('f64', 10)       // ten zeros
 * const b = new SharedArray('i32', [1, 2, 3])
 */
export class SharedArray<T extends TypeCode = TypeCode> {
  readonly #type: CType
  readonly #length: number
  readonly #storage: Storage
  readonly #lock: Lock | RLock | null;
  [index: number]: ElementOf<T>

  constructor(type: T, sizeOrInit: number | ArrayLike<ElementOf<T>> | Iterable<ElementOf<T>>, options: SharedOptions = {}) {
    if (reviving !== null) {
      const r = reviving
      reviving = null
      this.#type = type as CType
      this.#length = sizeOrInit as number
      this.#storage = r.storage
      this.#lock = r.lock
    } else {
      this.#type = ctype(type)
      const { lock, processShared } = parseShared(options, 'Array')
      this.#lock = lock
      let init: ElementOf<T>[] | null = null
      if (typeof sizeOrInit === 'number') {
        if (!Number.isInteger(sizeOrInit) || sizeOrInit < 0) throw invalidArgValue(`Expected \`sizeOrInit\` to be a non-negative integer or a list of numbers, got ${describe(sizeOrInit)}`)
        this.#length = sizeOrInit
      } else if (sizeOrInit !== null && typeof sizeOrInit === 'object') {
        init = globalThis.Array.from(sizeOrInit as ArrayLike<ElementOf<T>>)
        this.#length = init.length
      } else {
        throw invalidArgType(`Expected \`sizeOrInit\` to be a non-negative integer or a list of numbers, got ${describe(sizeOrInit)}`)
      }
      const size = CTYPES[this.#type].size
      this.#storage = processShared ? FileStorage.create(this.#type, this.#length) : new MemoryStorage(this.#type, new SharedArrayBuffer(Math.max(1, size * this.#length)))
      if (init !== null) init.forEach((v, i) => this.#storage.set(i, checkNumber(this.#type, v, `sizeOrInit[${i}]`)))
    }
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && /^(0|[1-9]\d*)$/.test(prop)) return target.get(Number(prop))
        const value = Reflect.get(target, prop, receiver === undefined ? target : target)
        return typeof value === 'function' ? value.bind(target) : value
      },
      set(target, prop, value) {
        if (typeof prop === 'string' && /^(0|[1-9]\d*)$/.test(prop)) {
          target.set(Number(prop), value)
          return true
        }
        return Reflect.set(target, prop, value, target)
      },
    })
  }

  /** The number of elements (fixed at creation). */
  get length(): number {
    return this.#length
  }

  /** The element type, e.g. `'i32'`. */
  get type(): CType {
    return this.#type
  }

  /** The element at `index`. @throws RangeError out of bounds */
  get(index: number): ElementOf<T> {
    return this.#storage.get(this.#check(index)) as ElementOf<T>
  }

  /**
   * Writes `value` at `index`.
   * @throws RangeError for an index out of range
   */
  set(index: number, value: ElementOf<T>): void {
    this.#storage.set(this.#check(index), checkNumber(this.#type, value, 'value'))
  }

  /** A plain copy of the elements. */
  toArray(): ElementOf<T>[] {
    const out: ElementOf<T>[] = []
    for (let i = 0; i < this.#length; i++) out.push(this.#storage.get(i) as ElementOf<T>)
    return out
  }

  /** The elements, in order. */
  *[Symbol.iterator](): IterableIterator<ElementOf<T>> {
    for (let i = 0; i < this.#length; i++) yield this.#storage.get(i) as ElementOf<T>
  }

  /**
   * The lock that guards this array.
   * @throws TypeError (code `ERR_MP_NO_LOCK`) for an array made without one (`lock: false`, or RawArray), as `Value.getLock()`
   */
  getLock(): Lock | RLock {
    if (this.#lock === null) throw invalidArgType('This array has no lock (it was made with lock: false, or with RawArray); make it with a lock to call getLock()', 'ERR_MP_NO_LOCK')
    return this.#lock
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    const data: SharedData = { type: this.#type, length: this.#length, store: this.#storage.share(target) as SharedData['store'], lock: this.#lock?.[kShare](target) ?? null }
    return { $: 'mp-share', module: import.meta.url, type: 'multiproc.Array', data }
  }

  #check(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.#length) throw invalidArgValue(`Expected \`index\` to be an integer from 0 to ${this.#length - 1}, got ${describe(index)}`)
    return index
  }
}

/** A shared array without a lock: Python's `RawArray`. */
export function RawArray<T extends TypeCode>(type: T, sizeOrInit: number | ArrayLike<ElementOf<T>> | Iterable<ElementOf<T>>, options: Omit<SharedOptions, 'lock'> = {}): SharedArray<T> {
  return new SharedArray<T>(type, sizeOrInit, { ...options, lock: false })
}

registerShareable('multiproc.Value', (d) => {
  const data = d as SharedData
  reviving = { storage: reviveStorage(data), lock: reviveLock(data.lock) }
  return new Value(data.type)
})

registerShareable('multiproc.Array', (d) => {
  const data = d as SharedData
  reviving = { storage: reviveStorage(data), lock: reviveLock(data.lock) }
  return new SharedArray(data.type, data.length)
})


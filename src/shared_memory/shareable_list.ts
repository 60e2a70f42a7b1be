/**
 * A fixed-length list of numbers, booleans, strings, byte arrays and null,
 * stored in a SharedMemory block (Python's `ShareableList`). Every thread or
 * process that attaches by name reads and writes the same items in place.
 *
 * Layout (little-endian, every slot 8-byte aligned):
 *
 *   0   u32 magic 'MPSL'   u32 count
 *   8   (count + 1) × u32  slot offsets; offset[count] is the end of the data
 *   …   count × u8         item kinds (0 null, 1 number, 2 boolean, 3 string, 4 bytes), padded to 8
 *   …   slots: a number or boolean is an f64; a string or bytes is a u32 byte length + the bytes
 *
 * Slots never move: an item may change kind, but a string or byte array
 * must fit the slot it gets (as in Python, where a str may not grow past its
 * original length). A single write is not atomic against readers of the same
 * item in other threads; guard items with a Lock where that matters.
 */
import { invalidArgType, invalidArgValue, InvalidStateError } from '../errors.js'
import { describe, keysOf, knownKeys, nonNegativeInteger, plainObject } from '../internal/validate.js'
import { kShare, registerShareable, type ShareDescriptor, type ShareTarget } from '../wire/shareable.js'
import { libraryModuleId } from '../wire/library_module.js'
import { SharedMemory, learnSharedBlock } from './shared_memory.js'

/** What a ShareableList slot holds. */
export type ShareableItem = number | boolean | string | Uint8Array | null

/** Options of `new ShareableList()`. */
export interface ShareableListOptions {
  /** The block's name: to attach (without a sequence) or to name the new block. */
  name?: string
}

const MAGIC = 0x4c53504d // 'MPSL'
const enum Kind {
  Null = 0,
  Number = 1,
  Boolean = 2,
  String = 3,
  Bytes = 4,
}

const align8 = (n: number): number => (n + 7) & ~7

function kindOf(value: unknown, index: number): Kind {
  if (value === null) return Kind.Null
  if (typeof value === 'number') return Kind.Number
  if (typeof value === 'boolean') return Kind.Boolean
  if (typeof value === 'string') return Kind.String
  if (value instanceof Uint8Array) return Kind.Bytes
  throw invalidArgType(`Expected \`sequence[${index}]\` to be a number, a boolean, a string, a Uint8Array or null, got ${describe(value)}`)
}

/**
 * A fixed-layout list stored in a SharedMemory block (Python's
 * `ShareableList`): numbers, booleans, strings, bytes and null, each slot
 * keeping the size it was created with.
 *
 * @throws RangeError when a new string or bytes value does not fit its slot
 * @example
 * const list = new ShareableList([1, true, 'text', null])
 * list.set(0, 2)
 * const same = new ShareableList(null, { name: list.shm.name }) // attach elsewhere
 * console.log(same.get(0)) // 2
 */
export class ShareableList implements Iterable<ShareableItem> {
  readonly #shm: SharedMemory
  readonly #count: number
  readonly #offsets: Uint32Array
  readonly #kinds: Uint8Array
  readonly #view: DataView
  readonly #bytes: Buffer

  /**
   * `new ShareableList([1, 'a', true])` creates a block holding the items;
   * `new ShareableList(null, { name })` attaches to an existing list.
   * @throws Error with `code` 'ENOENT' when attaching to a name that does not exist.
   */
  constructor(sequence?: Iterable<ShareableItem> | null, options: ShareableListOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('ShareableList', opts, keysOf<ShareableListOptions>({ name: true }))
    if (sequence === undefined || sequence === null) {
      if (opts.name === undefined) throw invalidArgType('Expected `sequence` to be an iterable of items, or `options.name` to attach to an existing list, got neither')
      this.#shm = new SharedMemory({ name: opts.name as string })
    } else {
      if (typeof (sequence as Iterable<unknown>)[Symbol.iterator] !== 'function') throw invalidArgType(`Expected \`sequence\` to be an iterable, got ${describe(sequence)}`)
      const items = [...sequence]
      const kinds = items.map(kindOf)
      const encoded = items.map((v, i) => (kinds[i] === Kind.String ? Buffer.from(v as string, 'utf8') : kinds[i] === Kind.Bytes ? (v as Uint8Array) : null))
      const header = align8(8 + 4 * (items.length + 1) + items.length)
      let size = header
      for (const e of encoded) size += e === null ? 8 : align8(Math.max(8, 4 + e.byteLength))
      this.#shm = new SharedMemory({ create: true, size, ...(opts.name !== undefined ? { name: opts.name as string } : {}) })
      const view = new DataView(this.#shm.buf.buffer, 0, size)
      view.setUint32(0, MAGIC, true)
      view.setUint32(4, items.length, true)
      let at = header
      for (let i = 0; i < items.length; i++) {
        view.setUint32(8 + 4 * i, at, true)
        at += encoded[i] === null ? 8 : align8(Math.max(8, 4 + encoded[i]!.byteLength))
      }
      view.setUint32(8 + 4 * items.length, at, true)
    }
    const buffer = this.#shm.buf.buffer
    this.#view = new DataView(buffer, 0, this.#shm.size)
    if (this.#shm.size < 8 || this.#view.getUint32(0, true) !== MAGIC) {
      throw invalidArgValue(`Expected \`name\` to name a ShareableList block, got ${describe(this.#shm.name)} (no list header)`)
    }
    this.#count = this.#view.getUint32(4, true)
    this.#offsets = new Uint32Array(buffer, 8, this.#count + 1)
    this.#kinds = new Uint8Array(buffer, 8 + 4 * (this.#count + 1), this.#count)
    this.#bytes = Buffer.from(buffer, 0, this.#shm.size)
    if (sequence !== undefined && sequence !== null) {
      let i = 0
      for (const item of sequence) this.set(i++, item)
    }
  }

  static {
    registerShareable('multiproc.ShareableList', (data) => {
      const { name, shm } = data as { name: string; shm: unknown }
      learnSharedBlock(shm)
      return new ShareableList(null, { name })
    })
  }

  /** The block holding the list (close and unlink it through this). */
  get shm(): SharedMemory {
    return this.#shm
  }

  /** The number of items (fixed when the list was created). */
  get length(): number {
    return this.#count
  }

  #index(index: unknown): number {
    nonNegativeInteger('index', index)
    if ((index as number) >= this.#count) throw invalidArgValue(`Expected \`index\` to be below the list's length ${this.#count}, got ${index}`)
    if (this.#shm.closed) throw new InvalidStateError(`ShareableList ${this.#shm.name} is closed`)
    return index as number
  }

  /** The item at `index` (negative counts from the end, like `Array.prototype.at`). */
  at(index: number): ShareableItem {
    return this.get(index < 0 ? this.#count + index : index)
  }

  /**
   * The item at `index`.
   * @throws RangeError for an index out of range
   */
  get(index: number): ShareableItem {
    const i = this.#index(index)
    const at = this.#offsets[i]!
    switch (this.#kinds[i]) {
      case Kind.Number:
        return this.#view.getFloat64(at, true)
      case Kind.Boolean:
        return this.#view.getFloat64(at, true) !== 0
      case Kind.String:
        return this.#bytes.toString('utf8', at + 4, at + 4 + this.#view.getUint32(at, true))
      case Kind.Bytes:
      {
        // A plain Uint8Array copy (a Buffer's slice would be a Buffer, and a view would change under the caller).
        const out = new Uint8Array(this.#view.getUint32(at, true))
        out.set(this.#bytes.subarray(at + 4, at + 4 + out.length))
        return out
      }
      default:
        return null
    }
  }

  /**
   * Replaces the item at `index`, in place, for every handle on the list.
   * @throws RangeError when a string or byte array does not fit the slot.
   */
  set(index: number, value: ShareableItem): void {
    const i = this.#index(index)
    const kind = kindOf(value, i)
    const at = this.#offsets[i]!
    const capacity = this.#offsets[i + 1]! - at - 4
    if (kind === Kind.Number) this.#view.setFloat64(at, value as number, true)
    else if (kind === Kind.Boolean) this.#view.setFloat64(at, value ? 1 : 0, true)
    else if (kind === Kind.String || kind === Kind.Bytes) {
      const bytes = kind === Kind.String ? Buffer.from(value as string, 'utf8') : (value as Uint8Array)
      if (bytes.byteLength > capacity) {
        throw invalidArgValue(`Expected \`value\` to fit slot ${i} (${capacity} bytes), got ${bytes.byteLength} bytes: slots keep the size they were created with`)
      }
      this.#bytes.set(bytes, at + 4)
      this.#view.setUint32(at, bytes.byteLength, true)
    }
    this.#kinds[i] = kind
  }

  /** How many items equal `value` (strict equality; byte arrays by content). */
  count(value: ShareableItem): number {
    let n = 0
    for (const item of this) if (same(item, value)) n++
    return n
  }

  /** The first index of `value`. @throws RangeError when it is not in the list. */
  index(value: ShareableItem): number {
    for (let i = 0; i < this.#count; i++) if (same(this.get(i), value)) return i
    throw invalidArgValue(`Expected \`value\` to be in the list, got ${describe(value)}`)
  }

  /** The items, in order: `for (const item of list)`. */
  *[Symbol.iterator](): Iterator<ShareableItem> {
    for (let i = 0; i < this.#count; i++) yield this.get(i)
  }

  /** A copy of the items as an array. */
  toArray(): ShareableItem[] {
    return [...this]
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    // The block travels as itself (checked for the target), the list by name on top of it.
    const shm = this.#shm[kShare](target)
    return { $: 'mp-share', module: libraryModuleId(import.meta.url), type: 'multiproc.ShareableList', data: { name: this.#shm.name, shm: shm.data } }
  }

  toString(): string {
    return `ShareableList(${JSON.stringify(this.toArray())}, name=${JSON.stringify(this.#shm.name)})`
  }
}

function same(a: ShareableItem, b: ShareableItem): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0
  return Object.is(a, b) || a === b
}

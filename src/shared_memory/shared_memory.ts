/**
 * Named blocks of memory shared by threads and processes (Python's
 * `multiprocessing.shared_memory.SharedMemory`).
 *
 * Two implementations behind one class:
 *
 * - native (the addon in native/shm.c, prebuilt in prebuilds/): POSIX shared memory + `mmap`. Every
 *   thread and every process that attaches by name maps the same pages, so
 *   a write anywhere is seen everywhere, with no copy and no message.
 * - fallback (no addon, or MULTIPROC_NO_NATIVE=1): the block is a
 *   SharedArrayBuffer. Worker threads share it (zero copy); the name is known
 *   to the thread that created it, to threads that received the block as an
 *   argument, and to threads that heard it announced on a BroadcastChannel.
 *   A child process cannot share a SharedArrayBuffer, so handing a block to
 *   one throws UnsupportedBackendError instead of silently copying it.
 *
 * Lifetime is explicit, as in Python but without its resource tracker
 * (cpython#82300, where a tracker unlinks blocks other processes still use):
 * `close()` releases this handle's mapping, `unlink()` removes the name, and
 * nothing unlinks a block on its own. Mappings made before an unlink stay
 * valid until closed (or garbage collected).
 */
import { randomBytes } from 'node:crypto'
import { BroadcastChannel } from 'node:worker_threads'
import { InvalidStateError, UnsupportedBackendError } from '../errors.js'
import { keysOf, knownKeys, plainObject, positiveInteger, typeFail, rangeFail, boolean } from '../internal/validate.js'
import { kShare, registerShareable, targetName, type ShareDescriptor, type ShareTarget } from '../wire/shareable.js'
import { libraryModuleId } from '../wire/library_module.js'
import { nativeShm, nativeShmHelp, nativeShmStatus, type NativeShmStatus } from './native.js'

/** Options of `new SharedMemory()`: attach to `name`, or `create` a block of `size` bytes. */
export interface SharedMemoryOptions {
  /** The block's name (letters, digits, `_`, `-`, `.`); default: a random `mp_…` name when creating. */
  name?: string
  /** Create a new block (it must not exist yet) rather than attach to one. Default `false`. */
  create?: boolean
  /** Size in bytes when creating; ignored when attaching (the block's own size is used). */
  size?: number
}

/** Which implementation SharedMemory uses in this process. */
export type SharedMemoryBackend = 'posix' | 'sharedarraybuffer'

interface ShareData {
  name: string
  size: number
  /** Present in fallback mode: the memory itself (threads only). */
  sab?: SharedArrayBuffer
}

/**
 * Native mappings of this thread, shared by its handles on the same block.
 * Mapping 64 MiB afresh for every task that receives a block costs more than
 * summing it (each page faults into the new mapping), so a thread maps a
 * block once and counts its open handles; the last close() unmaps it. The
 * inode tells whether a name still means the block we mapped (it may have
 * been unlinked and created anew). A mapping whose handles were all dropped
 * without close() is unmapped by the buffer's finalizer (hence the WeakRef).
 */
interface Mapping {
  inode: number
  buffer: WeakRef<ArrayBuffer>
  handles: number
}
const mappings = new Map<string, Mapping>()

function mapNative(name: string, create: boolean, size: number): { buffer: ArrayBuffer; mapping: Mapping } {
  const native = nativeShm!
  if (!create) {
    const cached = mappings.get(name)
    if (cached !== undefined) {
      const buffer = cached.buffer.deref()
      if (buffer !== undefined && buffer.byteLength > 0 && native.inode(`/${name}`) === cached.inode) {
        cached.handles++
        return { buffer, mapping: cached }
      }
    }
  }
  const opened = native.open(`/${name}`, create, size)
  const mapping: Mapping = { inode: opened.inode, buffer: new WeakRef(opened.buffer), handles: 1 }
  mappings.set(name, mapping)
  return { buffer: opened.buffer, mapping }
}

// Fallback name registry, per thread, fed by announcements from other threads.
const registry = new Map<string, SharedArrayBuffer>()
let channel: BroadcastChannel | null = null

function announce(message: { op: 'create'; name: string; sab: SharedArrayBuffer } | { op: 'unlink'; name: string }): void {
  ensureChannel().postMessage(message)
}

function ensureChannel(): BroadcastChannel {
  if (channel === null) {
    channel = new BroadcastChannel('multiproc:shared_memory')
    // An idle listener must not keep a program (or a worker) alive.
    ;(channel as unknown as { unref(): void }).unref()
    channel.onmessage = (event: unknown) => {
      const data = (event as { data: { op: string; name: string; sab?: SharedArrayBuffer } }).data
      if (data.op === 'create' && data.sab !== undefined && !registry.has(data.name)) registry.set(data.name, data.sab)
      else if (data.op === 'unlink') registry.delete(data.name)
    }
  }
  return channel
}

function systemError(code: 'ENOENT' | 'EEXIST', syscall: string, name: string): Error {
  const text = code === 'ENOENT' ? 'No such shared memory block' : 'A shared memory block of this name already exists'
  return Object.assign(new Error(`${syscall} ${name}: ${text}`), { code, syscall })
}

/**
 * Makes a block that travelled to this thread known by name here (fallback
 * mode carries the SharedArrayBuffer itself; native mode needs nothing).
 */
export function learnSharedBlock(data: unknown): void {
  const { name, sab } = data as ShareData
  if (sab !== undefined && nativeShm === null && !registry.has(name)) registry.set(name, sab)
}

const NAME = /^[A-Za-z0-9_.-]{1,200}$/

/**
 * A named block of memory that threads and processes attach to by name
 * (Python's `multiprocessing.shared_memory.SharedMemory`). `buf` and `view()`
 * read and write it in place; passed to a task, it arrives attached to the
 * same memory. Its lifetime is yours: `close()` each handle, `unlink()` once.
 *
 * @throws UnsupportedBackendError when handed to a child process without the native addon, or to the cluster
 * @example
 * const shm = new SharedMemory({ create: true, size: 8 * 1024 })
 * shm.view(Float64Array).fill(1)
 * await executor.submit(sumAll, shm) // the worker reads the same memory
 * shm.close()
 * shm.unlink()
 */
export class SharedMemory {
  /** The implementation in use: 'posix' with the addon, 'sharedarraybuffer' without it. */
  static get backend(): SharedMemoryBackend {
    return nativeShm !== null ? 'posix' : 'sharedarraybuffer'
  }

  /**
   * Where the implementation comes from: `prebuilt` (the addon shipped in the
   * package), `compiled` (built from source into build/Release) with the
   * addon's `file`, or `fallback` (SharedArrayBuffers) with the `reason`.
   * @example if (SharedMemory.addon.source === 'fallback') console.warn(SharedMemory.addon.reason)
   */
  static get addon(): NativeShmStatus {
    return nativeShmStatus
  }

  readonly #name: string
  readonly #size: number
  #buffer: ArrayBuffer | SharedArrayBuffer | null
  #buf: Uint8Array
  #mapping: Mapping | null = null

  /**
   * Creates a block (`create: true`, with `size`) or attaches to an existing one by `name`.
   *
   * @throws Error with `code` 'ENOENT' when attaching to a name that does not exist, 'EEXIST' when creating one that does.
   * @example
   * const shm = new SharedMemory({ create: true, size: 1024 })
   * const other = new SharedMemory({ name: shm.name }) // same memory, from any thread or process
   * shm.close(); shm.unlink()
   */
  constructor(options: SharedMemoryOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('SharedMemory', opts, keysOf<SharedMemoryOptions>({ name: true, create: true, size: true }))
    const create = opts.create === undefined ? false : boolean('create', opts.create)
    let name: string
    if (opts.name === undefined || opts.name === null) {
      if (!create) typeFail('name', 'the name of an existing block (or pass `create: true`)', opts.name)
      name = `mp_${randomBytes(8).toString('hex')}`
    } else {
      if (typeof opts.name !== 'string') typeFail('name', 'a string', opts.name)
      name = opts.name.startsWith('/') ? opts.name.slice(1) : opts.name
      if (!NAME.test(name)) rangeFail('name', '1 to 200 letters, digits, `_`, `-` or `.`', opts.name)
    }
    const size = create ? positiveInteger('size', opts.size) : 0
    this.#name = name
    if (nativeShm !== null) {
      const { buffer, mapping } = mapNative(name, create, size)
      this.#buffer = buffer
      this.#mapping = mapping
    } else if (create) {
      if (registry.has(name)) throw systemError('EEXIST', 'create', name)
      const sab = new SharedArrayBuffer(size)
      registry.set(name, sab)
      announce({ op: 'create', name, sab })
      this.#buffer = sab
    } else {
      ensureChannel()
      const sab = registry.get(name)
      if (sab === undefined) throw systemError('ENOENT', 'attach', name)
      this.#buffer = sab
    }
    this.#size = this.#buffer.byteLength
    this.#buf = new Uint8Array(this.#buffer)
  }


  /** The block's name, as given to attach to it. */
  get name(): string {
    return this.#name
  }

  /** Size in bytes. */
  get size(): number {
    return this.#size
  }

  /** The whole block as bytes. Writes are visible to every handle on the block. */
  get buf(): Uint8Array {
    if (this.#buffer === null) throw new InvalidStateError(`SharedMemory ${this.#name} is closed`)
    return this.#buf
  }

  /**
   * A typed view over the block, without copying.
   * @example const xs = shm.view(Float64Array) // every 8-byte cell of the block
   */
  view<T extends ArrayBufferView>(type: new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => T, byteOffset = 0, length?: number): T {
    const buffer = this.buf.buffer
    const bytesPer = (type as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1
    return new type(buffer, byteOffset, length ?? Math.floor((this.#size - byteOffset) / bytesPer))
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#buffer === null
  }

  /**
   * Releases this handle. When it was the last open handle on the block in
   * this thread, the mapping is unmapped and views over it become empty
   * (native); other handles of the thread keep it mapped. The block itself
   * lives on until `unlink()`. Idempotent.
   */
  close(): void {
    if (this.#buffer === null) return
    const mapping = this.#mapping
    if (mapping !== null && --mapping.handles === 0) {
      if (mappings.get(this.#name) === mapping) mappings.delete(this.#name)
      nativeShm!.unmap(this.#buffer as ArrayBuffer)
    }
    this.#buffer = null
    this.#mapping = null
    this.#buf = new Uint8Array(0)
  }

  /**
   * Removes the block's name so nobody else can attach. Handles already
   * attached keep working until they close. Call it once, from the owner.
   * @throws Error with `code` 'ENOENT' if the name was already removed.
   */
  unlink(): void {
    if (nativeShm !== null) {
      nativeShm.unlink(`/${this.#name}`)
      return
    }
    if (!registry.delete(this.#name)) throw systemError('ENOENT', 'unlink', this.#name)
    announce({ op: 'unlink', name: this.#name })
  }

  /** `using shm = new SharedMemory(...)` closes this handle at the end of the block (it does not unlink). */
  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    if (this.#buffer === null) throw new InvalidStateError(`SharedMemory ${this.#name} is closed and cannot be passed to a worker`)
    const data: ShareData = { name: this.#name, size: this.#size }
    if (nativeShm === null || !target.sameMachine) {
      if (!target.sharedMemory || !target.sameMachine) {
        throw new UnsupportedBackendError(
          `SharedMemory ${this.#name} cannot reach the ${targetName(target)} backend: ` +
            (!target.sameMachine
              ? 'shared memory does not span machines.'
              : 'without the native addon a block is a SharedArrayBuffer, which only worker threads share. ' +
                `${nativeShmHelp()} Or use the thread backend, or pass the data itself (it is then copied).`),
        )
      }
      data.sab = this.#buffer as SharedArrayBuffer
    }
    return { $: 'mp-share', module: libraryModuleId(import.meta.url), type: 'multiproc.SharedMemory', data }
  }

  /** `SharedMemory(name=mp_…, size=1024)`. */
  toString(): string {
    return `SharedMemory(${JSON.stringify(this.#name)}, size=${this.#size})`
  }
}

registerShareable('multiproc.SharedMemory', (data) => {
  learnSharedBlock(data)
  return new SharedMemory({ name: (data as ShareData).name })
})

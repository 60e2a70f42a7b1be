/**
 * Python's `multiprocessing.Queue`: a FIFO shared by every worker, bounded
 * by `maxsize` items (0: unbounded).
 *
 * Items are serialized (wire/serializer.ts: what structured clone takes) into
 * a ring of bytes in a SharedArrayBuffer; every worker thread reads and
 * writes the same ring, with no message hop. A child process reaches the
 * queue through the parent (sync/broker.ts).
 *
 *   cells: mutex, items-seq, space-seq, join-seq, head, tail, count, used bytes, closed, unfinished, maxsize
 *   ring:  [len u32][payload] [len u32][payload] ...   (wrapping at `capacity`)
 *
 * `put` waits while the queue holds `maxsize` items or the ring has no room
 * (backpressure); nothing is dropped or duplicated: an item is copied in and
 * out under the mutex. The ring starts over at offset 0 whenever the queue
 * runs empty, so only the bytes ever held at once are touched (the
 * capacity, 64 MiB by default, is reserved, not committed, by the OS).
 *
 * Unlike Python, a put completes when the item is in the queue, not in a
 * feeder thread: a process that put items can exit, and be joined, before
 * anyone reads them (cpython#73983 cannot happen).
 */
import { Empty, Full, QueueClosedError, TooManyReleasesError, invalidArgValue } from '../errors.js'
import { keysOf, knownKeys, nonNegativeInteger, plainObject, positiveInteger } from '../internal/validate.js'
import { fromBytes, toBytes } from '../wire/serializer.js'
import { registerShareable, type ShareTarget } from '../wire/shareable.js'
import { kBrokerCall } from '../sync/broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { assertCanBlock, bump, lockCells, unlockCells, locked, waitUntilSync, whenReady } from '../sync/monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from '../sync/primitive.js'
import { parseAcquire, type AcquireOptions } from '../sync/acquire_options.js'

const ITEMS = 1
const SPACE = 2
const JOINED = 3
const HEAD = 4
const TAIL = 5
const COUNT = 6
const USED = 7
const CLOSED = 8
const UNFINISHED = 9
const MAXSIZE = 10
const CELLS = 11

const DEFAULT_CAPACITY = 64 * 1024 * 1024

/** Options of `new Queue()`. */
export interface QueueOptions {
  /** The most items the queue holds; `put` waits while it is full. 0 (default): no limit. */
  maxsize?: number
  /** Bytes reserved for serialized items (default 64 MiB, committed only as used). */
  capacity?: number
}

/** Options of `put`: `blocking` (default true) and `timeout` in ms. */
export type PutOptions = AcquireOptions
/** Options of `get`: `blocking` (default true) and `timeout` in ms. */
export type GetOptions = AcquireOptions

/**
 * A FIFO queue shared by the main thread, worker threads and child processes
 * (Python's `multiprocessing.Queue`): pass it to a task or a Process and every
 * side sees the same queue. Items are anything structured clone takes.
 *
 * @typeParam T - the items
 * @throws Empty from `get` on timeout (or `getNowait` on an empty queue); Full from `put` on timeout; QueueClosedError after `close()`
 * @example
 * const q = new Queue<number>({ maxsize: 100 })
 * await q.put(1)
 * console.log(await q.get({ timeout: 1000 })) // 1
 */
export class Queue<T = unknown> extends Primitive {
  readonly #ring: Uint8Array
  /** A remote twin's maxsize (a constant, so it travels with the twin). */
  readonly #remoteMaxsize: number = 0

  /**
   * @throws RangeError for a negative `maxsize` or a `capacity` below 16 bytes
   * @example const q = new Queue<number>({ maxsize: 100 })
   */
  constructor(options: QueueOptions = {}) {
    super(CELLS)
    if (this.fresh) {
      const o = plainObject('options', options)
      knownKeys('Queue', o, keysOf<QueueOptions>({ maxsize: true, capacity: true }))
      this.cells[MAXSIZE] = o.maxsize === undefined ? 0 : nonNegativeInteger('options.maxsize', o.maxsize)
      const capacity = o.capacity === undefined ? DEFAULT_CAPACITY : positiveInteger('options.capacity', o.capacity)
      if (capacity < 16) throw invalidArgValue(`Expected \`options.capacity\` to be at least 16 bytes, got ${capacity}`)
      this.#ring = new Uint8Array(new SharedArrayBuffer(capacity))
    } else {
      // Threads get the ring; a child process gets the maxsize (see shareExtra).
      const extra = this.revivedExtra as SharedArrayBuffer | number | undefined
      this.#ring = extra instanceof SharedArrayBuffer ? new Uint8Array(extra) : new Uint8Array(0)
      if (typeof extra === 'number') this.#remoteMaxsize = extra
    }
  }

  protected get shareInfo() {
    return { type: 'multiproc.Queue', module: import.meta.url }
  }

  protected override shareExtra(target: ShareTarget): unknown {
    if (this.remote !== null) return this.#remoteMaxsize
    return target.sharedMemory ? this.#ring.buffer : this.cells[MAXSIZE]
  }

  /** The `maxsize` given (0: unbounded); a constant, readable in a child process too. */
  get maxsize(): number {
    if (this.remote !== null) return this.#remoteMaxsize
    return this.cells[MAXSIZE]!
  }

  /**
   * Puts `item` at the end, waiting while the queue is full (unless
   * `blocking` is false).
   * @throws Full when not blocking or timed out; QueueClosedError after close()
   */
  async put(item: T, options?: PutOptions): Promise<void> {
    const { blocking, timeout } = parseAcquire(options, 'Queue.put()')
    if (this.remote !== null) {
      await this.call('put', [item, blocking, timeout])
      return
    }
    return this.#putAsync(this.#encode(item), blocking, timeout)
  }

  /** Puts without waiting. @throws Full, QueueClosedError */
  putNowait(item: T): void {
    if (this.remote !== null) throw this.notRemote('Queue.putNowait() (use `await q.put(item, { blocking: false })`)')
    this.#putSync(this.#encode(item), false, undefined)
  }

  /** The blocking form of `put`, for worker threads. */
  putSync(item: T, options?: PutOptions): void {
    const { blocking, timeout } = parseAcquire(options, 'Queue.putSync()')
    if (this.remote !== null) throw this.notRemote('Queue.putSync()')
    if (blocking) assertCanBlock('Queue.putSync()')
    this.#putSync(this.#encode(item), blocking, timeout)
  }

  /**
   * Removes and returns the first item, waiting while the queue is empty.
   * @throws Empty when not blocking or timed out; QueueClosedError when closed and drained
   */
  async get(options?: GetOptions): Promise<T> {
    const { blocking, timeout } = parseAcquire(options, 'Queue.get()')
    if (this.remote !== null) return (await this.call('get', [blocking, timeout])) as T
    return fromBytes<T>(await this.#getAsync(blocking, timeout))
  }

  /** Gets without waiting. @throws Empty, QueueClosedError */
  getNowait(): T {
    if (this.remote !== null) throw this.notRemote('Queue.getNowait() (use `await q.get({ blocking: false })`)')
    return fromBytes<T>(this.#getSync(false, undefined))
  }

  /** The blocking form of `get`, for worker threads. */
  getSync(options?: GetOptions): T {
    const { blocking, timeout } = parseAcquire(options, 'Queue.getSync()')
    if (this.remote !== null) throw this.notRemote('Queue.getSync()')
    if (blocking) assertCanBlock('Queue.getSync()')
    return fromBytes<T>(this.#getSync(blocking, timeout))
  }

  /** How many items the queue holds now (exact, unlike Python's). */
  qsize(): number {
    if (this.remote !== null) throw this.notRemote('Queue.qsize()')
    return Atomics.load(this.cells, COUNT)
  }

  /**
   * Whether the queue holds no item now (exact).
   * @throws UnsupportedBackendError in a child process (use `qsize()` from the parent)
   */
  empty(): boolean {
    return this.qsize() === 0
  }

  /**
   * Whether a `put` would wait now (exact).
   * @throws UnsupportedBackendError in a child process
   */
  full(): boolean {
    const max = this.maxsize
    return max > 0 && this.qsize() >= max
  }

  /**
   * No more items can be put (by anyone: the queue is shared); `get` still
   * returns what is left, then throws QueueClosedError instead of waiting.
   */
  close(): void {
    if (this.remote !== null) return this.cast('close')
    lockCells(this.cells)
    this.cells[CLOSED] = 1
    unlockCells(this.cells)
    bump(this.cells, ITEMS)
    bump(this.cells, SPACE)
  }

  /**
   * @internal Waits until an item is there (or the queue is closed) without
   * taking it; false on timeout. For Connection.poll.
   */
  async waitReadable(timeout: number | undefined): Promise<boolean> {
    if (this.remote !== null) return (await this.call('poll', [timeout])) as boolean
    const cells = this.cells
    return (await whenReady(cells, ITEMS, () => cells[COUNT]! > 0 || cells[CLOSED] === 1, () => true, deadlineOf(timeout))).ok
  }

  /** @internal Whether an item is there or the queue is closed, now. */
  readableNow(): boolean {
    if (this.remote !== null) throw this.notRemote('Connection.poll() without a timeout')
    return Atomics.load(this.cells, COUNT) > 0 || Atomics.load(this.cells, CLOSED) === 1
  }

  /** @internal */
  isClosed(): boolean {
    return this.remote === null && Atomics.load(this.cells, CLOSED) === 1
  }

  /** Python compatibility: puts complete synchronously here, so there is no feeder to wait for. */
  joinThread(): void {}

  /** Python compatibility: see `joinThread`. */
  cancelJoinThread(): void {}

  /** @internal For JoinableQueue. */
  protected taskDoneLocal(): void {
    const cells = this.cells
    lockCells(cells)
    if (cells[UNFINISHED]! <= 0) {
      unlockCells(cells)
      throw new TooManyReleasesError('taskDone() called more times than there were items put')
    }
    const left = --cells[UNFINISHED]!
    unlockCells(cells)
    if (left === 0) bump(cells, JOINED)
  }

  /** @internal For JoinableQueue. */
  protected async joinLocal(timeout: number | undefined): Promise<boolean> {
    const cells = this.cells
    return (await whenReady(cells, JOINED, () => cells[UNFINISHED] === 0, () => true, deadlineOf(timeout))).ok
  }

  /** @internal For JoinableQueue. */
  protected joinLocalSync(timeout: number | undefined): boolean {
    const cells = this.cells
    lockCells(cells)
    try {
      return waitUntilSync(cells, JOINED, () => cells[UNFINISHED] === 0, deadlineOf(timeout))
    } finally {
      unlockCells(cells)
    }
  }

  #encode(item: T): Uint8Array {
    const bytes = toBytes(item)
    if (bytes.byteLength + 4 > this.#ring.byteLength) {
      throw invalidArgValue(
        `The item takes ${bytes.byteLength} bytes serialized, more than the queue's capacity of ${this.#ring.byteLength} bytes; create the queue with a larger \`capacity\``,
      )
    }
    return bytes
  }

  #room(need: number): boolean {
    const cells = this.cells
    if (cells[CLOSED] === 1) return true
    const max = cells[MAXSIZE]!
    return (max === 0 || cells[COUNT]! < max) && this.#ring.byteLength - cells[USED]! >= need
  }

  /** With the mutex held and room checked. */
  #write(bytes: Uint8Array): void {
    const cells = this.cells
    if (cells[CLOSED] === 1) throw new QueueClosedError('put() on a closed queue')
    const ring = this.#ring
    const cap = ring.byteLength
    const len = bytes.byteLength
    let tail = cells[TAIL]!
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, len, true)
    tail = copyIn(ring, tail, header, cap)
    tail = copyIn(ring, tail, bytes, cap)
    cells[TAIL] = tail
    cells[USED]! += len + 4
    cells[COUNT]!++
    cells[UNFINISHED]!++
  }

  /** With the mutex held and an item present. */
  #read(): Uint8Array {
    const cells = this.cells
    const ring = this.#ring
    const cap = ring.byteLength
    const header = new Uint8Array(4)
    let head = copyOut(ring, cells[HEAD]!, header, cap)
    const len = new DataView(header.buffer).getUint32(0, true)
    const out = new Uint8Array(len)
    head = copyOut(ring, head, out, cap)
    cells[HEAD] = head
    cells[USED]! -= len + 4
    if (--cells[COUNT]! === 0) {
      cells[HEAD] = 0
      cells[TAIL] = 0
    }
    return out
  }

  #putSync(bytes: Uint8Array, blocking: boolean, timeout: number | undefined): void {
    const cells = this.cells
    const need = bytes.byteLength + 4
    lockCells(cells)
    try {
      const ok = blocking ? waitUntilSync(cells, SPACE, () => this.#room(need), deadlineOf(timeout)) : this.#room(need)
      if (!ok) throw new Full(blocking ? `put() timed out after ${timeout} ms: the queue is full` : 'The queue is full')
      this.#write(bytes)
    } finally {
      unlockCells(cells)
    }
    bump(cells, ITEMS)
  }

  async #putAsync(bytes: Uint8Array, blocking: boolean, timeout: number | undefined): Promise<void> {
    const cells = this.cells
    const need = bytes.byteLength + 4
    const ready = (): boolean => this.#room(need)
    const write = (): true => {
      this.#write(bytes)
      return true
    }
    const ok = blocking ? (await whenReady(cells, SPACE, ready, write, deadlineOf(timeout))).ok : locked(cells, () => ready() && write())
    if (!ok) throw new Full(blocking ? `put() timed out after ${timeout} ms: the queue is full` : 'The queue is full')
    bump(cells, ITEMS)
  }

  #take(ok: boolean, blocking: boolean, timeout: number | undefined): Uint8Array {
    const cells = this.cells
    if (cells[COUNT]! > 0) return this.#read()
    if (cells[CLOSED] === 1) throw new QueueClosedError('get() on a closed and drained queue')
    if (!ok || !blocking) throw new Empty(blocking ? `get() timed out after ${timeout} ms: the queue is empty` : 'The queue is empty')
    throw new Empty()
  }

  #getSync(blocking: boolean, timeout: number | undefined): Uint8Array {
    const cells = this.cells
    lockCells(cells)
    let out: Uint8Array
    try {
      const ok = blocking && waitUntilSync(cells, ITEMS, () => cells[COUNT]! > 0 || cells[CLOSED] === 1, deadlineOf(timeout))
      out = this.#take(ok, blocking, timeout)
    } finally {
      unlockCells(cells)
    }
    bump(cells, SPACE)
    return out
  }

  async #getAsync(blocking: boolean, timeout: number | undefined): Promise<Uint8Array> {
    const cells = this.cells
    const take = (): Uint8Array => this.#take(true, blocking, timeout)
    const out = blocking
      ? await whenReady(cells, ITEMS, () => cells[COUNT]! > 0 || cells[CLOSED] === 1, take, deadlineOf(timeout))
      : { ok: true as const, value: locked(cells, () => this.#take(false, false, undefined)) }
    if (!out.ok) throw new Empty(`get() timed out after ${timeout} ms: the queue is empty`)
    bump(cells, SPACE)
    return out.value
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[]): unknown {
    switch (method) {
      case 'put':
        return this.#putAsync(this.#encode(args[0] as T), args[1] as boolean, args[2] as number | undefined)
      case 'get':
        return this.#getAsync(args[0] as boolean, args[1] as number | undefined).then((bytes) => fromBytes(bytes))
      case 'close':
        return this.close()
      case 'taskDone':
        return this.taskDoneLocal()
      case 'join':
        return this.joinLocal(args[0] as number | undefined)
      case 'poll':
        return this.waitReadable(args[0] as number | undefined)
    }
    throw new TypeError(`internal: Queue has no remote method ${method}`)
  }
}

function copyIn(ring: Uint8Array, at: number, bytes: Uint8Array, cap: number): number {
  const first = Math.min(bytes.byteLength, cap - at)
  ring.set(first === bytes.byteLength ? bytes : bytes.subarray(0, first), at)
  if (first < bytes.byteLength) ring.set(bytes.subarray(first), 0)
  return (at + bytes.byteLength) % cap
}

function copyOut(ring: Uint8Array, at: number, out: Uint8Array, cap: number): number {
  const first = Math.min(out.byteLength, cap - at)
  out.set(ring.subarray(at, at + first), 0)
  if (first < out.byteLength) out.set(ring.subarray(0, out.byteLength - first), first)
  return (at + out.byteLength) % cap
}

registerShareable('multiproc.Queue', (data) => reviveAs(Queue, data as PrimitiveData))


/**
 * One end of a Pipe, Python's `multiprocessing.connection.Connection`:
 * `send`/`recv` whole values, `sendBytes`/`recvBytes` raw bytes, `poll`.
 *
 * Each direction of a pipe is a Queue (a byte ring in shared memory, or the
 * parent's queue for a child process), so a Connection travels to workers
 * like any primitive. Closing an end closes the direction it writes to: the
 * other end reads what is left, then gets EOFError.
 */
import { BufferTooShortError, ConnectionClosedError, EOFError, QueueClosedError, invalidArgType } from '../errors.js'
import { describe, knownKeys, plainObject, positiveInteger, timeoutOption } from '../internal/validate.js'
import { kShare, registerShareable, type ShareDescriptor, type ShareTarget } from '../wire/shareable.js'
import { Queue } from '../queues/queue.js'
import { reviveAs, type PrimitiveData } from '../sync/primitive.js'
import { assertCanBlock } from '../sync/monitor.js'

const kBytes = '$mp-bytes'

/**
 * One end of a `Pipe()` (Python's `multiprocessing.connection.Connection`):
 * `send(value)`, `await recv()`, `sendBytes`, `recvBytes`, `poll()`. It travels
 * to workers and child processes as an argument and stays connected.
 *
 * @throws EOFError from `recv()` once the other end closed and nothing is left
 * @example
 * const [parent, child] = Pipe()
 * executor.submit(reply, child)
 * parent.send('ping')
 * console.log(await parent.recv())
 */
export class Connection {
  readonly #inbox: Queue | null
  readonly #outbox: Queue | null
  #closed = false

  /** @internal Use `Pipe()`. */
  constructor(inbox: Queue | null, outbox: Queue | null) {
    this.#inbox = inbox
    this.#outbox = outbox
  }

  /** Whether this end was closed. */
  get closed(): boolean {
    return this.#closed
  }

  /** Whether this end may receive (false for the sending end of a one-way Pipe). */
  get readable(): boolean {
    return this.#inbox !== null
  }

  /** Whether this end may send (false for the receiving end of a one-way Pipe). */
  get writable(): boolean {
    return this.#outbox !== null
  }

  /**
   * Sends a value (anything structured clone takes). Does not wait: the
   * pipe holds what the other end has not read yet.
   * @throws ConnectionClosedError when this end is closed or not writable
   */
  send(value: unknown): void {
    const out = this.#writer('send')
    if (out.isRemote) void out.queue.put(value).catch(() => {})
    else out.queue.putNowait(value)
  }

  /** Sends bytes (a view, optionally `offset` and `size` of it, in elements of bytes). */
  sendBytes(buffer: ArrayBufferView | ArrayBuffer, offset = 0, size?: number): void {
    const bytes = ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : null
    if (bytes === null) throw invalidArgType(`Expected \`buffer\` to be an ArrayBuffer or a view of one, got ${describe(buffer)}`)
    this.send({ [kBytes]: bytes.slice(offset, size === undefined ? undefined : offset + size) })
  }

  /**
   * Receives the next value, waiting for it.
   * @throws EOFError when the other end is closed and nothing is left
   */
  async recv(): Promise<unknown> {
    const inbox = this.#reader('recv')
    try {
      return await inbox.get()
    } catch (error) {
      throw error instanceof QueueClosedError ? new EOFError() : error
    }
  }

  /** The blocking form of `recv`, for worker threads. */
  recvSync(): unknown {
    const inbox = this.#reader('recvSync')
    assertCanBlock('Connection.recvSync()')
    try {
      return inbox.getSync()
    } catch (error) {
      throw error instanceof QueueClosedError ? new EOFError() : error
    }
  }

  /**
   * Receives the next message sent with `sendBytes`.
   * @throws BufferTooShortError when it is longer than `maxlength` (the data is on the error)
   */
  async recvBytes(options: { maxlength?: number } = {}): Promise<Uint8Array> {
    const o = plainObject('options', options)
    knownKeys('recvBytes()', o, ['maxlength'])
    const max = o.maxlength === undefined ? undefined : positiveInteger('options.maxlength', o.maxlength)
    const value = (await this.recv()) as Record<string, Uint8Array> | null
    const bytes = value !== null && typeof value === 'object' && value[kBytes] instanceof Uint8Array ? value[kBytes] : null
    if (bytes === null) throw invalidArgType(`recvBytes() got a message sent with send(), not sendBytes(): ${describe(value)}`)
    if (max !== undefined && bytes.byteLength > max) throw new BufferTooShortError(bytes)
    return bytes
  }

  /**
   * Whether there is something to read (or the other end closed), waiting
   * up to `timeout` ms (default 0: just look).
   */
  async poll(options: { timeout?: number } = {}): Promise<boolean> {
    const timeout = timeoutOption('poll()', options) ?? 0
    const inbox = this.#reader('poll')
    if (timeout === 0 && !isRemote(inbox)) return inbox.readableNow()
    return inbox.waitReadable(timeout)
  }

  /** Closes this end; the other end reads what is left, then gets EOFError. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#outbox?.close()
  }

  /** `using conn = ...` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    if (this.#closed) throw new ConnectionClosedError('A closed connection cannot be sent to a worker')
    return {
      $: 'mp-share',
      module: import.meta.url,
      type: 'multiproc.Connection',
      data: { i: this.#inbox?.[kShare](target) ?? null, o: this.#outbox?.[kShare](target) ?? null },
    }
  }

  #writer(what: string): { queue: Queue; isRemote: boolean } {
    if (this.#closed) throw new ConnectionClosedError(`${what}() on a closed connection`)
    if (this.#outbox === null) throw new ConnectionClosedError(`${what}() on the receive-only end of a one-way pipe`)
    return { queue: this.#outbox, isRemote: isRemote(this.#outbox) }
  }

  #reader(what: string): Queue {
    if (this.#closed) throw new ConnectionClosedError(`${what}() on a closed connection`)
    if (this.#inbox === null) throw new ConnectionClosedError(`${what}() on the send-only end of a one-way pipe`)
    return this.#inbox
  }

  /** @internal For wait(): readable now, without waiting. */
  readyNow(): boolean {
    return this.#inbox !== null && !this.#closed && !isRemote(this.#inbox) && this.#inbox.readableNow()
  }
}

function isRemote(queue: Queue): boolean {
  return queue.isRemoteTwin()
}

registerShareable('multiproc.Connection', (d) => {
  const data = d as { i: ShareDescriptor | null; o: ShareDescriptor | null }
  const q = (x: ShareDescriptor | null): Queue | null => (x === null ? null : reviveAs(Queue, x.data as PrimitiveData))
  return new Connection(q(data.i), q(data.o))
})

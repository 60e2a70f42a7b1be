/**
 * A message connection over a stream socket (TCP or Unix), what `Listener`
 * accepts and `Client` returns; Python's `multiprocessing.connection.Connection`
 * over a socket.
 *
 * Framing: every message is a 4-byte big-endian length, then one kind byte
 * (0: a value in V8's serialization format, 1: raw bytes), then the payload.
 * A frame longer than `maxMessageSize`, or a value that does not
 * deserialize, closes this connection (and only this one): the stream can no
 * longer be trusted to be in step.
 */
import type { Socket } from 'node:net'
import { ConnectionClosedError, EOFError, invalidArgType } from '../errors.js'
import { Deque } from '../internal/deque.js'
import { optionalTimeout } from '../internal/validate.js'
import { fromBytes, toBytes } from '../wire/serializer.js'

const KIND_VALUE = 0
const KIND_BYTES = 1

/** Default largest message accepted: 256 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024 * 1024

interface Frame {
  kind: number
  payload: Buffer
}

interface Waiter {
  resolve(frame: Frame): void
  reject(error: unknown): void
}

/**
 * A message connection over a TCP or Unix socket, as `Client()` and
 * `Listener.accept()` return it: `send(value)`, `await recv()`, `close()`.
 *
 * @example
 * const conn = await Client(address, { authkey: 'secret' })
 * conn.send({ hello: 'world' })
 * console.log(await conn.recv())
 * conn.close()
 */
export class SocketConnection {
  readonly #socket: Socket
  readonly #frames = new Deque<Frame>()
  readonly #waiters = new Deque<Waiter>()
  readonly #pollers = new Set<() => void>()
  #chunks: Buffer[] = []
  #buffered = 0
  #maxMessageSize: number
  /** Why the connection ended: null while open. */
  #ended: Error | null = null
  #closedByUs = false
  #refCount = 0
  /** Keep the program alive while a recv waits (default), or only while requests are outstanding (`refForRequest()`). */
  #refWhileReceiving = true
  #requests = 0
  #handler: ((message: unknown) => void) | null = null
  #onEnd: ((reason: Error) => void) | null = null

  /** @internal Built by Listener and Client. */
  constructor(socket: Socket, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {
    this.#socket = socket
    this.#maxMessageSize = maxMessageSize
    socket.setNoDelay?.(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.#end(new ConnectionClosedError(`The connection failed: ${error.message}`, { cause: error })))
    socket.on('close', () => this.#end(new EOFError()))
    // Idle connections do not keep the program alive; a pending recv does.
    socket.unref()
  }

  /** @internal The largest frame accepted (small during the authkey handshake). */
  setMaxMessageSize(bytes: number): void {
    this.#maxMessageSize = bytes
  }

  /** Whether the connection is closed (by either side). */
  get closed(): boolean {
    return this.#ended !== null && this.#frames.length === 0
  }

  /** The peer's address as the socket reports it. */
  get remoteAddress(): string {
    return this.#socket.remoteAddress !== undefined ? `${this.#socket.remoteAddress}:${this.#socket.remotePort}` : 'unix socket peer'
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    while (this.#buffered >= 4) {
      const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : Buffer.concat(this.#chunks)
      const length = head.readUInt32BE(0)
      if (length === 0 || length - 1 > this.#maxMessageSize) {
        this.#socket.destroy()
        this.#end(new ConnectionClosedError(`The connection was closed: a message of ${length - 1} bytes is over the limit of ${this.#maxMessageSize} bytes (or malformed)`))
        return
      }
      if (this.#buffered < 4 + length) return
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks)
      const frame = { kind: all[4]!, payload: all.subarray(5, 4 + length) }
      const rest = all.subarray(4 + length)
      this.#chunks = rest.length > 0 ? [rest] : []
      this.#buffered = rest.length
      if (this.#handler !== null) {
        this.#dispatch(frame)
        if (this.#ended !== null) return
        continue
      }
      const waiter = this.#waiters.shift()
      if (waiter !== undefined) waiter.resolve(frame)
      else this.#frames.push(frame)
      this.#syncRef()
      for (const poll of this.#pollers) poll()
    }
  }

  /**
   * @internal For the Manager's hot path: every message goes straight to
   * `handler` as it is parsed (no Promise per message); `onEnd` is called
   * once when the connection ends for any reason. recv() is not used then.
   */
  setHandler(handler: (message: unknown) => void, onEnd: (reason: Error) => void): void {
    this.#handler = handler
    this.#onEnd = onEnd
    for (let f = this.#frames.shift(); f !== undefined; f = this.#frames.shift()) this.#dispatch(f)
    if (this.#ended !== null) onEnd(this.#ended)
  }

  #dispatch(frame: Frame): void {
    let message: unknown
    try {
      message = frame.kind === KIND_BYTES ? frame.payload : fromBytes(frame.payload)
    } catch (error) {
      this.#socket.destroy()
      this.#end(new ConnectionClosedError('The connection was closed: a malformed message', { cause: error }))
      return
    }
    this.#handler!(message)
  }

  #end(reason: Error): void {
    if (this.#ended !== null) return
    this.#ended = this.#closedByUs ? new ConnectionClosedError() : reason
    this.#onEnd?.(this.#ended)
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w.reject(this.#ended)
    for (const poll of this.#pollers) poll()
    this.#syncRef()
  }

  /**
   * @internal For a connection with a reader loop that always waits (a
   * Manager link): keep the program alive only while a request waits for
   * its reply (`refForRequest()`), not merely because a recv waits.
   */
  refOnlyForRequests(): void {
    this.#refWhileReceiving = false
    this.#syncRef()
  }

  /** @internal */
  refForRequest(): void {
    this.#requests++
    this.#syncRef()
  }

  /** @internal */
  unrefForRequest(): void {
    this.#requests--
    this.#syncRef()
  }

  #syncRef(): void {
    const busy = this.#refWhileReceiving ? this.#waiters.length > 0 : this.#requests > 0
    const want = busy && this.#ended === null ? 1 : 0
    if (want !== this.#refCount) {
      this.#refCount = want
      if (want) this.#socket.ref()
      else this.#socket.unref()
    }
  }

  #write(kind: number, payload: Uint8Array): void {
    if (this.#ended !== null) throw this.#closedByUs ? new ConnectionClosedError() : new ConnectionClosedError('The other end closed the connection', { cause: this.#ended })
    if (payload.byteLength < 64 * 1024) {
      // Small messages: one buffer, one write (the common case of a proxy call).
      const frame = Buffer.allocUnsafe(5 + payload.byteLength)
      frame.writeUInt32BE(payload.byteLength + 1, 0)
      frame[4] = kind
      frame.set(payload, 5)
      this.#socket.write(frame)
      return
    }
    const head = Buffer.allocUnsafe(5)
    head.writeUInt32BE(payload.byteLength + 1, 0)
    head[4] = kind
    this.#socket.cork()
    this.#socket.write(head)
    this.#socket.write(payload)
    this.#socket.uncork()
  }

  /** Sends a structured-cloneable value. @throws ConnectionClosedError, or a DataCloneError for an uncloneable value. */
  send(value: unknown): void {
    this.#write(KIND_VALUE, toBytes(value))
  }

  /** Sends raw bytes (optionally a slice: `offset` and `size` in bytes). */
  sendBytes(data: ArrayBufferView | ArrayBuffer, offset = 0, size?: number): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null
    if (bytes === null) throw invalidArgType('Expected `data` to be an ArrayBuffer or a typed array')
    this.#write(KIND_BYTES, bytes.subarray(offset, size === undefined ? undefined : offset + size))
  }

  #next(): Promise<Frame> {
    const frame = this.#frames.shift()
    if (frame !== undefined) return Promise.resolve(frame)
    if (this.#ended !== null) return Promise.reject(this.#ended)
    return new Promise<Frame>((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      this.#syncRef()
    })
  }

  /**
   * Receives the next value (or a Buffer, for a message sent as bytes).
   * @throws EOFError when the other end closed and nothing is left; ConnectionClosedError on a malformed message.
   */
  async recv(): Promise<unknown> {
    const frame = await this.#next()
    if (frame.kind === KIND_BYTES) return frame.payload
    try {
      return fromBytes(frame.payload)
    } catch (error) {
      this.#socket.destroy()
      this.#end(new ConnectionClosedError('The connection was closed: a malformed message', { cause: error }))
      throw new ConnectionClosedError('The connection was closed: a malformed message', { cause: error })
    }
  }

  /** Receives the next message as bytes. */
  async recvBytes(): Promise<Buffer> {
    return (await this.#next()).payload
  }

  /** Whether a message is ready, waiting up to `timeout` ms (default: do not wait). */
  poll(options: { timeout?: number } = {}): Promise<boolean> {
    const timeout = optionalTimeout('timeout', options.timeout) ?? 0
    if (this.#frames.length > 0) return Promise.resolve(true)
    if (this.#ended !== null || timeout === 0) return Promise.resolve(false)
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#pollers.delete(done)
        resolve(this.#frames.length > 0)
      }
      const timer = Number.isFinite(timeout) ? setTimeout(done, timeout) : undefined
      this.#pollers.add(done)
    })
  }

  /** Closes the connection; pending and later calls fail with ConnectionClosedError. Idempotent. */
  close(): void {
    if (this.#ended !== null && this.#socket.destroyed) return
    this.#closedByUs = true
    this.#socket.end()
    this.#socket.destroy()
    this.#end(new ConnectionClosedError())
  }

  /** `using conn = ...` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** `await using conn = ...` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }
}

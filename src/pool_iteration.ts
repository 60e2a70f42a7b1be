/**
 * The iterator behind `Pool.imap` and `Pool.imapUnordered`.
 *
 * While the pool runs, it is the executor's lazy map: input is read as the
 * consumer asks, a bounded window ahead. When the pool is closed, an
 * iteration that has not ended switches to draining: it reads and runs the
 * rest of its input in the background and keeps the results for the
 * consumer, which is what Python's imap does from the start. So close() +
 * join() finish the work that was asked for, whether or not anybody is
 * still consuming it, and never wait on a consumer.
 *
 *   lazy ──drain()──▶ draining ──input exhausted or error──▶ drained
 *     └──────────── end of input / error / return() ──────▶ ended
 */
import { BrokenExecutorError, CancelledError } from './errors.js'
import { Deque } from './internal/deque.js'

export class PoolIteration implements AsyncIterableIterator<unknown> {
  readonly #inner: AsyncIterableIterator<unknown>
  readonly #onEnd: () => void
  readonly #terminated: () => boolean
  #mode: 'lazy' | 'draining' | 'ended' = 'lazy'
  readonly #buffer = new Deque<unknown>()
  #failed = false
  #error: unknown = undefined
  #drained = false
  #wake: (() => void) | null = null

  /**
   * @param inner the executor's lazy map iterator
   * @param onEnd called once, when no more work will be submitted
   * @param terminated whether the pool was terminated (to word errors)
   */
  constructor(inner: AsyncIterableIterator<unknown>, onEnd: () => void, terminated: () => boolean) {
    this.#inner = inner
    this.#onEnd = onEnd
    this.#terminated = terminated
  }

  async next(): Promise<IteratorResult<unknown>> {
    if (this.#mode === 'lazy') {
      try {
        const r = await this.#inner.next()
        if (r.done) this.#end()
        return r
      } catch (error) {
        this.#end()
        throw this.#word(error)
      }
    }
    for (;;) {
      if (this.#buffer.length > 0) return { done: false, value: this.#buffer.shift() }
      if (this.#drained || this.#mode === 'ended') {
        if (this.#failed) {
          this.#failed = false
          this.#mode = 'ended'
          throw this.#word(this.#error)
        }
        return { done: true, value: undefined }
      }
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  async return(): Promise<IteratorResult<unknown>> {
    this.#buffer.clear()
    this.#failed = false
    this.#end()
    await this.#inner.return?.()
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this
  }

  /** Reads and runs the rest of the input now, keeping the results for the consumer. */
  drain(): void {
    if (this.#mode !== 'lazy') return
    this.#mode = 'draining'
    void (async () => {
      try {
        for (;;) {
          // Queued behind a next() the consumer may have pending: order is kept.
          const r = await this.#inner.next()
          if (r.done || (this.#mode as string) === 'ended') break
          this.#buffer.push(r.value)
          this.#wakeConsumer()
        }
      } catch (error) {
        this.#failed = true
        this.#error = error
      }
      this.#drained = true
      this.#onEnd()
      this.#wakeConsumer()
    })()
  }

  #wakeConsumer(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  #end(): void {
    if (this.#mode === 'ended') return
    const wasDraining = this.#mode === 'draining'
    this.#mode = 'ended'
    // A draining iteration ends its lease when the drain loop stops.
    if (!wasDraining) this.#onEnd()
    this.#wakeConsumer()
  }

  /** A terminated pool refuses the next chunk with BrokenExecutorError: say what happened instead. */
  #word(error: unknown): unknown {
    if (error instanceof BrokenExecutorError && this.#terminated()) {
      return new CancelledError('The iteration was cancelled: its pool was terminated', { cause: error })
    }
    return error
  }
}

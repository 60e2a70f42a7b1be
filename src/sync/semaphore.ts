/**
 * A counting semaphore, Python's `multiprocessing.Semaphore`; and
 * `BoundedSemaphore`, which refuses to be released above its initial value.
 */
import { TooManyReleasesError } from '../errors.js'
import { nonNegativeInteger, positiveInteger } from '../internal/validate.js'
import { registerShareable } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { assertCanBlock, bump, lockCells, unlockCells, locked, waitUntilSync, whenReady } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { held, notAcquired, parseAcquire, type AcquireOptions, type Held } from './acquire_options.js'

const SEQ = 1
const VALUE = 2
/** The initial value for a BoundedSemaphore, -1 for a plain one. */
const BOUND = 3

/**
 * A counter of free slots shared by threads and processes (Python's
 * `multiprocessing.Semaphore`): `acquire()` takes one, waiting while none is
 * free; `release(n)` gives back.
 *
 * @example
 * const slots = new Semaphore(2) // at most two at once
 * {
 *   await using _ = await slots.hold()
 *   await download(url)
 * }
 */
export class Semaphore extends Primitive {
  /**
   * @param value the initial count (default 1)
   * @throws RangeError for a negative value
   */
  constructor(value = 1) {
    super(4)
    if (this.fresh) {
      this.cells[VALUE] = nonNegativeInteger('value', value)
      this.cells[BOUND] = -1
    }
  }

  protected get shareInfo() {
    return { type: 'multiproc.Semaphore', module: import.meta.url }
  }

  /** Decrements the count, waiting while it is zero; false when not blocking or timed out. */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const { blocking, timeout } = parseAcquire(options)
    if (this.remote !== null) return (await this.call('acquire', [blocking, timeout])) as boolean
    return this.#acquireAsync(blocking, timeout)
  }

  /**
   * The blocking form of `acquire`, for worker threads.
   * @throws UnsupportedBackendError on the main thread
   */
  acquireSync(options?: AcquireOptions): boolean {
    const { blocking, timeout } = parseAcquire(options)
    if (this.remote !== null) throw this.notRemote('Semaphore.acquireSync()')
    if (blocking) assertCanBlock('Semaphore.acquireSync()')
    const cells = this.cells
    lockCells(cells)
    try {
      const ok = !blocking ? cells[VALUE]! > 0 : waitUntilSync(cells, SEQ, () => cells[VALUE]! > 0, deadlineOf(timeout))
      if (ok) cells[VALUE]!--
      return ok
    } finally {
      unlockCells(cells)
    }
  }

  /**
   * Increments the count by `n` (default 1), waking waiters.
   * @throws TooManyReleasesError for a BoundedSemaphore released above its initial value
   */
  release(n = 1): void {
    positiveInteger('n', n)
    if (this.remote !== null) {
      this.cast('release', [n])
      return
    }
    this.#release(n)
  }

  /**
   * The current count (Python's `get_value()`).
   * @throws UnsupportedBackendError in a child process (the state lives in the parent)
   */
  getValue(): number {
    if (this.remote !== null) throw this.notReadableRemote('Semaphore.getValue()')
    return Atomics.load(this.cells, VALUE)
  }

  /**
   * Acquires and returns a handle that releases on dispose: `await using _ = await sem.hold()`.
   * @throws TimeoutError when not acquired within `timeout`
   */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!(await this.acquire(options))) throw notAcquired('The Semaphore', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  /**
   * The blocking form of `hold`, for worker threads.
   * @throws UnsupportedBackendError on the main thread
   */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) throw notAcquired('The Semaphore', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  async #acquireAsync(blocking: boolean, timeout: number | undefined): Promise<boolean> {
    const cells = this.cells
    const available = (): boolean => cells[VALUE]! > 0
    const take = (): true => {
      cells[VALUE]!--
      return true
    }
    if (!blocking) return locked(cells, () => available() && take())
    return (await whenReady(cells, SEQ, available, take, deadlineOf(timeout))).ok
  }

  #release(n: number): void {
    const cells = this.cells
    lockCells(cells)
    const bound = cells[BOUND]!
    if (bound >= 0 && cells[VALUE]! + n > bound) {
      unlockCells(cells)
      throw new TooManyReleasesError(`BoundedSemaphore released too many times (its initial value is ${bound})`)
    }
    cells[VALUE]! += n
    unlockCells(cells)
    bump(cells, SEQ, n)
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[]): unknown {
    switch (method) {
      case 'acquire':
        return this.#acquireAsync(args[0] as boolean, args[1] as number | undefined)
      case 'release':
        return this.#release(args[0] as number)
    }
    throw new TypeError(`internal: Semaphore has no remote method ${method}`)
  }
}

/** A Semaphore that throws TooManyReleasesError when released above its initial value. */
export class BoundedSemaphore extends Semaphore {
  constructor(value = 1) {
    super(value)
    if (this.fresh) this.cells[BOUND] = value
  }

  protected override get shareInfo() {
    return { type: 'multiproc.BoundedSemaphore', module: import.meta.url }
  }
}

registerShareable('multiproc.Semaphore', (data) => reviveAs(Semaphore, data as PrimitiveData))
registerShareable('multiproc.BoundedSemaphore', (data) => reviveAs(BoundedSemaphore, data as PrimitiveData))

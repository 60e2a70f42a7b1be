/**
 * A re-entrant lock, Python's `multiprocessing.RLock`: the holder may acquire
 * it again, and must release it as many times. The holder is a thread of
 * this process or a child process (see monitor.selfOwner). All the async
 * code of one thread counts as one holder, as all of Python's code in one
 * thread does.
 */
import { NotHeldError } from '../errors.js'
import { registerShareable } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { assertCanBlock, bump, lockCells, selfOwner, unlockCells, waitUntilSync, whenReady } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { held, notAcquired, parseAcquire, type AcquireOptions, type Held } from './acquire_options.js'
import type { OwnedLock } from './lock.js'

const SEQ = 1
const OWNER = 2
const COUNT = 3

/**
 * A reentrant lock (Python's `multiprocessing.RLock`): its owner (a thread or
 * a process) may acquire it again, and must release it as many times.
 *
 * @throws NotHeldError from `release()` by anyone but its owner
 * @example
 * const rlock = new RLock()
 * await rlock.acquire()
 * await rlock.acquire() // the owner may take it again
 * rlock.release()
 * rlock.release()
 */
export class RLock extends Primitive implements OwnedLock {
  #localHolds = 0

  constructor() {
    super(4)
  }

  protected get shareInfo() {
    return { type: 'multiproc.RLock', module: import.meta.url }
  }

  /** Acquires (again, if this thread holds it); false when not blocking or timed out. */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const { blocking, timeout } = parseAcquire(options)
    if (this.remote !== null) {
      const ok = (await this.call('acquire', [blocking, timeout])) as boolean
      if (ok) this.#localHolds++
      return ok
    }
    return this.#acquire(selfOwner(), blocking, timeout, 1, false) as Promise<boolean>
  }

  /** The blocking form of `acquire`, for worker threads. */
  acquireSync(options?: AcquireOptions): boolean {
    const { blocking, timeout } = parseAcquire(options)
    if (this.remote !== null) throw this.notRemote('RLock.acquireSync()')
    if (blocking) assertCanBlock('RLock.acquireSync()')
    return this.#acquire(selfOwner(), blocking, timeout, 1, true) as boolean
  }

  /** Releases once. Throws NotHeldError when this thread does not hold it. */
  release(): void {
    if (this.remote !== null) {
      if (this.#localHolds === 0) throw new NotHeldError('release() of an RLock this process does not hold')
      this.#localHolds--
      this.cast('release')
      return
    }
    this.#release(selfOwner(), false)
  }

  /**
   * Whether someone (this thread or another, a child process included) holds the lock now.
   * @throws UnsupportedBackendError in a child process (the state lives in the parent)
   * @example
   * await rlock.acquire()
   * rlock.locked() // true
   */
  locked(): boolean {
    if (this.remote !== null) throw this.notReadableRemote('RLock.locked()')
    return Atomics.load(this.cells, OWNER) !== 0
  }

  /**
   * Acquires and returns a handle that releases on dispose: `await using _ = await rlock.hold()`.
   * @throws TimeoutError when not acquired within `timeout` (or at once, when not `blocking`)
   */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!(await this.acquire(options))) throw notAcquired('The RLock', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  /**
   * The blocking form of `hold`, for worker threads: `using _ = rlock.holdSync()`.
   * @throws UnsupportedBackendError on the main thread
   */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) throw notAcquired('The RLock', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  #acquire(owner: number, blocking: boolean, timeout: number | undefined, count: number, sync: boolean): boolean | Promise<boolean> {
    const cells = this.cells
    lockCells(cells)
    if (cells[OWNER] === owner) {
      cells[COUNT]! += count
      unlockCells(cells)
      return sync ? true : Promise.resolve(true)
    }
    const free = (): boolean => cells[OWNER] === 0
    const take = (ok: boolean): boolean => {
      if (ok) {
        cells[OWNER] = owner
        cells[COUNT] = count
      }
      unlockCells(cells)
      return ok
    }
    if (!blocking) return sync ? take(free()) : Promise.resolve(take(free()))
    if (sync) {
      try {
        return take(waitUntilSync(cells, SEQ, free, deadlineOf(timeout)))
      } catch (error) {
        unlockCells(cells)
        throw error
      }
    }
    unlockCells(cells)
    const claim = (): true => {
      cells[OWNER] = owner
      cells[COUNT] = count
      return true
    }
    return whenReady(cells, SEQ, free, claim, deadlineOf(timeout)).then((outcome) => outcome.ok)
  }

  /** Releases once, or completely; returns the count that was held. */
  #release(owner: number, all: boolean): number {
    const cells = this.cells
    lockCells(cells)
    if (cells[OWNER] !== owner) {
      const free = cells[OWNER] === 0
      unlockCells(cells)
      throw new NotHeldError(free ? 'release() of an unlocked RLock' : 'release() of an RLock held by another thread or process')
    }
    const before = cells[COUNT]!
    cells[COUNT] = all ? 0 : before - 1
    if (cells[COUNT] === 0) {
      cells[OWNER] = 0
      unlockCells(cells)
      bump(cells, SEQ, 1)
    } else {
      unlockCells(cells)
    }
    return before
  }

  /** @internal */
  isOwnedBy(owner: number): boolean {
    if (this.remote !== null) return this.#localHolds > 0
    return Atomics.load(this.cells, OWNER) === owner
  }

  /** @internal */
  releaseSave(owner: number): number {
    return this.#release(owner, true)
  }

  /** @internal */
  acquireRestore(owner: number, saved: number, sync: boolean): Promise<void> | void {
    const r = this.#acquire(owner, true, undefined, saved, sync)
    if (r instanceof Promise) return r.then(() => {})
  }

  /** @internal */
  localHolds(): number {
    return this.#localHolds
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[], owner: number): unknown {
    switch (method) {
      case 'acquire':
        return this.#acquire(owner, args[0] as boolean, args[1] as number | undefined, 1, false)
      case 'release':
        return this.#release(owner, false)
    }
    throw new TypeError(`internal: RLock has no remote method ${method}`)
  }

  /** `'RLock'`, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return 'RLock'
  }
}

registerShareable('multiproc.RLock', (data) => reviveAs(RLock, data as PrimitiveData))

/**
 * A non-recursive lock, Python's `multiprocessing.Lock` (and `threading.Lock`).
 *
 * Any thread may release it (as in Python). In a child process the lock is a
 * remote twin (sync/broker.ts): there, only the process that acquired it may
 * release it, as it cannot see who holds it without asking.
 */
import { NotHeldError } from '../errors.js'
import { registerShareable } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { assertCanBlock, bump, lockCells, locked, selfOwner, unlockCells, waitUntilSync, whenReady } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { held, notAcquired, parseAcquire, type AcquireOptions, type Held } from './acquire_options.js'

const SEQ = 1
const HOLDER = 2

/** What Condition needs from its lock (Lock or RLock). */
export interface OwnedLock {
  /** @internal */ isOwnedBy(owner: number): boolean
  /** @internal Releases completely, returns what `acquireRestore` needs. */ releaseSave(owner: number): number
  /** @internal */ acquireRestore(owner: number, saved: number, sync: boolean): Promise<void> | void
  /** @internal A remote twin: how many times this process holds it. */ localHolds(): number
}

/**
 * A lock shared by threads and processes (Python's `multiprocessing.Lock`).
 * `await acquire()` resolves true once held (false on timeout or when not
 * `blocking`); `await using _ = await lock.hold()` is Python's `with lock:`.
 *
 * @throws NotHeldError from `release()` of a lock that is not held
 * @example
 * const lock = new Lock()
 * {
 *   await using _ = await lock.hold()
 *   // one task at a time here
 * }
 */
export class Lock extends Primitive implements OwnedLock {
  #localHolds = 0

  /** @example const lock = new Lock(); await using _ = await lock.hold() */
  constructor() {
    super(3)
  }

  protected get shareInfo() {
    return { type: 'multiproc.Lock', module: import.meta.url }
  }

  /**
   * Acquires the lock; resolves true, or false when `blocking` is false or
   * the timeout passed first.
   */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const { blocking, timeout } = parseAcquire(options)
    if (this.remote !== null) {
      const ok = (await this.call('acquire', [blocking, timeout])) as boolean
      if (ok) this.#localHolds++
      return ok
    }
    return this.#acquireAsync(selfOwner(), blocking, timeout)
  }

  /** The blocking form of `acquire`, for worker threads. */
  acquireSync(options?: AcquireOptions): boolean {
    const { blocking, timeout } = parseAcquire(options)
    if (this.remote !== null) throw this.notRemote('Lock.acquireSync()')
    if (blocking) assertCanBlock('Lock.acquireSync()')
    const cells = this.cells
    lockCells(cells)
    try {
      const ok = !blocking ? cells[HOLDER] === 0 : waitUntilSync(cells, SEQ, () => cells[HOLDER] === 0, deadlineOf(timeout))
      if (ok) cells[HOLDER] = selfOwner()
      return ok
    } finally {
      unlockCells(cells)
    }
  }

  /** Releases the lock. Throws NotHeldError when it is not locked. */
  release(): void {
    if (this.remote !== null) {
      if (this.#localHolds === 0) throw new NotHeldError('release() of a Lock this process does not hold')
      this.#localHolds--
      this.cast('release')
      return
    }
    this.#release()
  }

  /**
   * Whether someone holds the lock now.
   * @throws UnsupportedBackendError in a child process (the state lives in the parent)
   */
  locked(): boolean {
    if (this.remote !== null) throw this.notReadableRemote('Lock.locked()')
    return Atomics.load(this.cells, HOLDER) !== 0
  }

  /**
   * Acquires and returns a handle that releases on dispose (Python's `with lock:`).
   * @throws TimeoutError when not acquired in time
   * @example await using _ = await lock.hold()
   */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!(await this.acquire(options))) throw notAcquired('The Lock', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  /** The blocking form of `hold`: `using _ = lock.holdSync()` in a worker thread. */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) throw notAcquired('The Lock', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  async #acquireAsync(owner: number, blocking: boolean, timeout: number | undefined): Promise<boolean> {
    const cells = this.cells
    const free = (): boolean => cells[HOLDER] === 0
    const take = (): true => {
      cells[HOLDER] = owner
      return true
    }
    if (!blocking) return locked(cells, () => free() && take())
    return (await whenReady(cells, SEQ, free, take, deadlineOf(timeout))).ok
  }

  #release(): void {
    const cells = this.cells
    lockCells(cells)
    if (cells[HOLDER] === 0) {
      unlockCells(cells)
      throw new NotHeldError('release() of an unlocked Lock')
    }
    cells[HOLDER] = 0
    unlockCells(cells)
    bump(cells, SEQ, 1)
  }

  /** @internal */
  isOwnedBy(_owner: number): boolean {
    if (this.remote !== null) return this.#localHolds > 0
    return Atomics.load(this.cells, HOLDER) !== 0
  }

  /** @internal */
  releaseSave(_owner: number): number {
    this.#release()
    return 1
  }

  /** @internal */
  acquireRestore(owner: number, _saved: number, sync: boolean): Promise<void> | void {
    if (!sync) return this.#acquireAsync(owner, true, undefined).then(() => {})
    this.acquireSync()
  }

  /** @internal */
  localHolds(): number {
    return this.#localHolds
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[], owner: number): unknown {
    switch (method) {
      case 'acquire':
        return this.#acquireAsync(owner, args[0] as boolean, args[1] as number | undefined)
      case 'release':
        return this.#release()
    }
    throw new TypeError(`internal: Lock has no remote method ${method}`)
  }

  /** `'Lock'`, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return this.remote !== null ? 'Lock(remote)' : `Lock(${this.locked() ? 'locked' : 'unlocked'})`
  }
}

registerShareable('multiproc.Lock', (data) => reviveAs(Lock, data as PrimitiveData))

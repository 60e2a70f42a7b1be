/**
 * Python's `multiprocessing.Condition`: wait until notified, holding a lock
 * around the check (an RLock unless one is given).
 *
 * `notify(n)` wakes exactly up to n waiters, as Python's does. A waiter
 * registers (WAITERS) while it holds the lock; a notify, which needs the
 * lock, hands out tokens (TOKENS, at most one per registered waiter that
 * has none yet), bumps SEQ and wakes that many. A waiter returns as
 * notified only by taking a token; one woken without a token (another took
 * it first, or SEQ moved between its release of the lock and its wait)
 * waits again. Counting on SEQ alone woke two waiters for one notify when a
 * notify fell between a waiter's release of the lock and its wait.
 * As in Python, a waiter should re-check its condition: `waitFor` does.
 */
import { NotHeldError } from '../errors.js'
import { func, typeFail } from '../internal/validate.js'
import { registerShareable, type ShareDescriptor, type ShareTarget, kShare } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { aboutToBlock, abortable, assertCanBlock, atomicsWaitAsync, bump, currentSignal, keepingLoop, locked, selfOwner } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { held, notAcquired, parseAcquire, parseTimeout, type AcquireOptions, type Held, type TimeoutOptions } from './acquire_options.js'
import { Lock } from './lock.js'
import { RLock } from './rlock.js'

const SEQ = 1
const WAITERS = 2
const TOKENS = 3

/**
 * A condition variable shared by threads and processes (Python's
 * `multiprocessing.Condition`): with its lock held, `wait()` releases it until
 * a `notify()`, and `waitFor(predicate)` until the predicate holds.
 *
 * @throws NotHeldError from `wait` and `notify` without the lock
 * @example
 * const cond = new Condition()
 * await cond.acquire()
 * try {
 *   await cond.waitFor(() => ready[0] === 1, { timeout: 5000 })
 * } finally {
 *   cond.release()
 * }
 */
export class Condition extends Primitive {
  readonly #lock: Lock | RLock

  /**
   * @param lock the lock to use (a Lock or an RLock); a new RLock by default
   * @throws TypeError for anything else
   */
  constructor(lock?: Lock | RLock) {
    super(4)
    if (!this.fresh) {
      const d = this.revivedExtra as ShareDescriptor
      this.#lock = d.type === 'multiproc.RLock' ? reviveAs(RLock, d.data as PrimitiveData) : reviveAs(Lock, d.data as PrimitiveData)
    } else {
      if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) typeFail('lock', 'a Lock or an RLock', lock)
      this.#lock = lock ?? new RLock()
    }
  }

  protected get shareInfo() {
    return { type: 'multiproc.Condition', module: import.meta.url }
  }

  protected override shareExtra(target: ShareTarget): unknown {
    return this.#lock[kShare](target)
  }

  /** The underlying lock's `acquire`. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options)
  }

  /** Acquires the underlying lock, blocking (worker threads only). */
  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options)
  }

  /**
   * Releases the underlying lock.
   * @throws NotHeldError when it is not held
   */
  release(): void {
    this.#lock.release()
  }

  /** Acquires the lock for `await using` (Python's `with cond:`). */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!(await this.acquire(options))) throw notAcquired('The Condition', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  /** The blocking form of `hold`, for worker threads. */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) throw notAcquired('The Condition', parseAcquire(options).timeout)
    return held(() => this.release())
  }

  /**
   * Releases the lock, waits for a notify, takes the lock back. Resolves
   * false when the timeout passed first.
   * @throws NotHeldError when the lock is not held
   */
  async wait(options?: TimeoutOptions): Promise<boolean> {
    const timeout = parseTimeout(options)
    this.#checkOwned('wait')
    if (this.remote !== null) return (await this.call('wait', [timeout])) as boolean
    return this.#wait(selfOwner(), timeout, false) as Promise<boolean>
  }

  /** The blocking form of `wait`, for worker threads. */
  waitSync(options?: TimeoutOptions): boolean {
    const timeout = parseTimeout(options)
    if (this.remote !== null) throw this.notRemote('Condition.waitSync()')
    this.#checkOwned('waitSync')
    assertCanBlock('Condition.waitSync()')
    return this.#wait(selfOwner(), timeout, true) as boolean
  }

  /**
   * Waits until `predicate()` is true (checked with the lock held) and
   * returns its last value, which is falsy when the timeout passed first.
   */
  async waitFor<T>(predicate: () => T, options?: TimeoutOptions): Promise<T> {
    func('predicate', predicate)
    const timeout = parseTimeout(options)
    const deadline = deadlineOf(timeout)
    let result = predicate()
    while (!result) {
      const left = deadline - performance.now()
      if (left <= 0) break
      await this.wait(deadline === Infinity ? {} : { timeout: left })
      result = predicate()
    }
    return result
  }

  /**
   * The blocking form of `waitFor`, for worker threads.
   * @returns the predicate's last value (falsy when the timeout passed first)
   */
  waitForSync<T>(predicate: () => T, options?: TimeoutOptions): T {
    func('predicate', predicate)
    const deadline = deadlineOf(parseTimeout(options))
    let result = predicate()
    while (!result) {
      const left = deadline - performance.now()
      if (left <= 0) break
      this.waitSync(deadline === Infinity ? {} : { timeout: left })
      result = predicate()
    }
    return result
  }

  /**
   * Wakes up to `n` waiters (default 1).
   * @throws NotHeldError when the lock is not held
   */
  notify(n = 1): void {
    this.#checkOwned('notify')
    if (this.remote !== null) return this.cast('notify', [n])
    this.#notify(n)
  }

  #notify(n: number): void {
    const cells = this.cells
    const count = locked(cells, () => {
      const k = Math.min(n, cells[WAITERS]! - cells[TOKENS]!)
      if (k > 0) cells[TOKENS]! += k
      return k
    })
    if (count > 0) bump(cells, SEQ, count)
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    this.notify(Infinity)
  }

  #checkOwned(what: string): void {
    const owned = this.remote !== null ? this.#lock.localHolds() > 0 : this.#lock.isOwnedBy(selfOwner())
    if (!owned) throw new NotHeldError(`Condition.${what}() needs the condition's lock held`)
  }

  #wait(owner: number, timeout: number | undefined, sync: boolean): boolean | Promise<boolean> {
    const cells = this.cells
    const deadline = deadlineOf(timeout)
    // Registered while the lock is held: a notify after the release below counts this waiter.
    let s = locked(cells, () => {
      cells[WAITERS]!++
      return cells[SEQ]!
    })
    const saved = this.#lock.releaseSave(owner)
    /** After a wake-up: true (notified) with a token, false at the deadline, null to wait again. */
    const settle = (): boolean | null =>
      locked(cells, () => {
        if (cells[TOKENS]! > 0) {
          cells[TOKENS]!--
          cells[WAITERS]!--
          return true
        }
        if (performance.now() >= deadline) {
          cells[WAITERS]!--
          return false
        }
        s = cells[SEQ]!
        return null
      })
    const left = (): number => (deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now()))
    if (sync) {
      let notified: boolean | null = null
      while (notified === null) {
        aboutToBlock()
        Atomics.wait(cells, SEQ, s, left())
        notified = settle()
      }
      this.#lock.acquireRestore(owner, saved, true)
      return notified
    }
    const signal = currentSignal()
    return (async () => {
      let notified: boolean | null = null
      try {
        while (notified === null) {
          const r = atomicsWaitAsync(cells, SEQ, s, left())
          if (r.async) await keepingLoop(abortable(r.value, signal))
          notified = settle()
        }
      } catch (error) {
        // Aborted (the child process it waits for went away): leave, and drop a token it can no longer take.
        locked(cells, () => {
          cells[WAITERS]!--
          if (cells[TOKENS]! > cells[WAITERS]!) cells[TOKENS] = cells[WAITERS]!
        })
        throw error
      }
      await this.#lock.acquireRestore(owner, saved, false)
      return notified
    })()
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[], owner: number): unknown {
    switch (method) {
      case 'wait':
        if (!this.#lock.isOwnedBy(owner)) throw new NotHeldError('Condition.wait() needs the condition\'s lock held')
        return this.#wait(owner, args[0] as number | undefined, false)
      case 'notify':
        return this.#notify(args[0] as number)
    }
    throw new TypeError(`internal: Condition has no remote method ${method}`)
  }
}

registerShareable('multiproc.Condition', (data) => reviveAs(Condition, data as PrimitiveData))

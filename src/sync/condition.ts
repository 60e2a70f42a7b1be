/**
 * Python's `multiprocessing.Condition`: wait until notified, holding a lock
 * around the check (an RLock unless one is given).
 *
 * Waiting is on a sequence cell read while the lock is held, so a notify
 * (which needs the lock) cannot slip in between the check and the wait.
 * As in Python, a waiter should re-check its condition: `waitFor` does.
 */
import { NotHeldError } from '../errors.js'
import { func, typeFail } from '../internal/validate.js'
import { registerShareable, type ShareDescriptor, type ShareTarget, kShare } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { aboutToBlock, abortable, assertCanBlock, atomicsWaitAsync, bump, currentSignal, deadlineOf, keepingLoop, selfOwner } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { held, notAcquired, parseAcquire, parseTimeout, type AcquireOptions, type Held, type TimeoutOptions } from './acquire_options.js'
import { Lock } from './lock.js'
import { RLock } from './rlock.js'

const SEQ = 1

export class Condition extends Primitive {
  readonly #lock: Lock | RLock

  /**
   * @param lock the lock to use (a Lock or an RLock); a new RLock by default
   * @throws TypeError for anything else
   */
  constructor(lock?: Lock | RLock) {
    super(2)
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

  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options)
  }

  release(): void {
    this.#lock.release()
  }

  /** Acquires the lock for `await using` (Python's `with cond:`). */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!(await this.acquire(options))) throw notAcquired('The Condition', parseAcquire(options).timeout)
    return held(() => this.release())
  }

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
    bump(this.cells, SEQ, n)
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
    const s = Atomics.load(cells, SEQ)
    const saved = this.#lock.releaseSave(owner)
    if (sync) {
      aboutToBlock()
      const r = Atomics.wait(cells, SEQ, s, timeout ?? Infinity)
      this.#lock.acquireRestore(owner, saved, true)
      return r !== 'timed-out'
    }
    const r = atomicsWaitAsync(cells, SEQ, s, timeout ?? Infinity)
    const woken: Promise<string> = r.async ? keepingLoop(abortable(r.value, currentSignal())) : Promise.resolve(r.value)
    return woken.then(async (outcome) => {
      await this.#lock.acquireRestore(owner, saved, false)
      return outcome !== 'timed-out'
    })
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[], owner: number): unknown {
    switch (method) {
      case 'wait':
        if (!this.#lock.isOwnedBy(owner)) throw new NotHeldError('Condition.wait() needs the condition\'s lock held')
        return this.#wait(owner, args[0] as number | undefined, false)
      case 'notify':
        return bump(this.cells, SEQ, args[0] as number)
    }
    throw new TypeError(`internal: Condition has no remote method ${method}`)
  }
}

registerShareable('multiproc.Condition', (data) => reviveAs(Condition, data as PrimitiveData))

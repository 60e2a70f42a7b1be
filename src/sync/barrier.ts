/**
 * Python's `multiprocessing.Barrier`: `parties` tasks wait until all of them
 * have arrived, then all go on. The last to arrive runs `action` first. A
 * wait that times out breaks the barrier for everyone (BrokenBarrierError),
 * as do `abort()` and an action that throws; `reset()` breaks it for the
 * current waiters and makes it usable again.
 *
 * States (Python's): filling (0) → the last arrives: running the action (2)
 * → draining (1) while the waiters leave → filling. Broken (-2) until reset;
 * resetting (-1) while the waiters of a reset leave. Arrivals wait while it
 * drains or resets, so generations never mix.
 *
 * The action runs where the last party arrives: in that thread; for a party
 * in a child process, in the parent (which performs the child's wait). In a
 * worker the action is imported by module and export name, so it must be an
 * exported function (like a task).
 */
import { BrokenBarrierError } from '../errors.js'
import { keysOf, knownKeys, plainObject, positiveInteger, optionalTimeout } from '../internal/validate.js'
import { resolveTask, type TaskFunction } from '../task_ref.js'
import { registerShareable } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { assertCanBlock, bump, lockCells, locked, unlockCells, waitUntilSync, whenReady } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { parseTimeout, type TimeoutOptions } from './acquire_options.js'

const SEQ = 1
const COUNT = 2
const STATE = 3
const PARTIES = 4

const FILLING = 0
const DRAINING = 1
const ACTION = 2
const RESETTING = -1
const BROKEN = -2

/** Options of `new Barrier()`. */
export interface BarrierOptions {
  /** Run by the last party to arrive, before any party goes on. An exported function (or task reference) if the barrier goes to workers. */
  action?: TaskFunction
  /** Default timeout of `wait`, in milliseconds. */
  timeout?: number
}

interface BarrierExtra {
  /** A constant: travels with the twin, so that a child process reads it too. */
  parties: number
  timeout: number | undefined
  action: { module: string; name: string } | null
}

/**
 * Makes `parties` tasks wait for each other (Python's
 * `multiprocessing.Barrier`): `await wait()` returns once all arrived, each
 * with a different arrival index.
 *
 * @throws BrokenBarrierError from `wait` after a timeout, `abort()`, or an action that threw
 * @example
 * const barrier = new Barrier(3, { timeout: 5000 })
 * await Promise.all([1, 2, 3].map((i) => executor.submit(phase, barrier, i)))
 */
export class Barrier extends Primitive {
  #action: TaskFunction | undefined
  readonly #actionRef: { module: string; name: string } | null
  readonly #timeout: number | undefined
  readonly #parties: number

  /**
   * @param parties how many tasks must wait before all are released
   * @throws RangeError unless `parties` is a positive integer
   * @example const barrier = new Barrier(3, { timeout: 5000 })
   */
  constructor(parties = 1, options: BarrierOptions = {}) {
    super(5)
    if (this.fresh) {
      knownKeys('Barrier', plainObject('options', options), keysOf<BarrierOptions>({ action: true, timeout: true }))
      this.cells[PARTIES] = positiveInteger('parties', parties)
      this.#parties = parties
      this.#timeout = optionalTimeout('options.timeout', options.timeout)
      if (options.action !== undefined && typeof options.action !== 'function') {
        throw new TypeError('Expected `options.action` to be a function')
      }
      this.#action = options.action
      this.#actionRef = null
    } else {
      const extra = this.revivedExtra as BarrierExtra
      this.#parties = extra.parties
      this.#timeout = extra.timeout
      this.#actionRef = extra.action
      // Loaded now, so that waitSync() finds it.
      if (extra.action !== null) this.#getAction().catch(() => {})
    }
  }

  protected get shareInfo() {
    return { type: 'multiproc.Barrier', module: import.meta.url }
  }

  protected override shareExtra(): BarrierExtra {
    let action = this.#actionRef
    if (action === null && this.#action !== undefined) {
      const r = resolveTask(this.#action, 'options.action')
      action = { module: r.module, name: r.name }
    }
    return { parties: this.#parties, timeout: this.#timeout, action }
  }

  /** How many parties must arrive (a constant: readable everywhere, a child process included). */
  get parties(): number {
    return this.#parties
  }

  /**
   * How many parties are waiting now.
   * @throws UnsupportedBackendError in a child process (the state lives in the parent)
   */
  get nWaiting(): number {
    if (this.remote !== null) throw this.notReadableRemote('Barrier.nWaiting')
    return Atomics.load(this.cells, STATE) === FILLING ? Atomics.load(this.cells, COUNT) : 0
  }

  /**
   * Whether the barrier is broken.
   * @throws UnsupportedBackendError in a child process (the state lives in the parent)
   */
  get broken(): boolean {
    if (this.remote !== null) throw this.notReadableRemote('Barrier.broken')
    return Atomics.load(this.cells, STATE) === BROKEN
  }

  /**
   * Waits for all parties. Resolves with this party's arrival index
   * (0 to parties - 1; the last to arrive gets parties - 1).
   * @throws BrokenBarrierError when the barrier is or gets broken (a timeout breaks it)
   */
  async wait(options?: TimeoutOptions): Promise<number> {
    const timeout = parseTimeout(options) ?? this.#timeout
    if (this.remote !== null) return (await this.call('wait', [timeout])) as number
    return this.#waitAsync(timeout)
  }

  /** The blocking form of `wait`, for worker threads. */
  waitSync(options?: TimeoutOptions): number {
    const timeout = parseTimeout(options) ?? this.#timeout
    if (this.remote !== null) throw this.notRemote('Barrier.waitSync()')
    assertCanBlock('Barrier.waitSync()')
    const cells = this.cells
    lockCells(cells)
    let index = -1
    try {
      waitUntilSync(cells, SEQ, () => cells[STATE] !== DRAINING && cells[STATE] !== RESETTING && cells[STATE] !== ACTION, Infinity)
      if (cells[STATE] === BROKEN) throw new BrokenBarrierError()
      index = cells[COUNT]!++
      if (index + 1 === cells[PARTIES]) {
        const action = this.#action
        if (action !== undefined || this.#actionRef !== null) {
          cells[STATE] = ACTION
          unlockCells(cells)
          let failed: unknown = null
          try {
            const fn = action ?? this.#loadedAction
            if (fn === undefined) throw new BrokenBarrierError('The barrier action is still loading in this worker; call wait() (async) once before waitSync()')
            fn()
          } catch (error) {
            failed = error ?? new Error('barrier action failed')
          }
          lockCells(cells)
          if (failed !== null) {
            this.#break()
            throw failed
          }
        }
        cells[STATE] = DRAINING
        bump(cells, SEQ)
      } else {
        const ok = waitUntilSync(cells, SEQ, () => cells[STATE] !== FILLING && cells[STATE] !== ACTION, deadlineOf(timeout))
        if (!ok) {
          this.#break()
          throw new BrokenBarrierError(`Barrier.wait() timed out after ${timeout} ms; the barrier is broken`)
        }
        if (cells[STATE] < 0) throw new BrokenBarrierError()
      }
      return index
    } finally {
      if (index >= 0) this.#exit()
      unlockCells(cells)
    }
  }

  #loadedAction: TaskFunction | undefined

  async #getAction(): Promise<TaskFunction | undefined> {
    if (this.#action !== undefined) return this.#action
    if (this.#actionRef === null) return undefined
    const ns = (await import(this.#actionRef.module)) as Record<string, unknown>
    this.#loadedAction = ns[this.#actionRef.name] as TaskFunction
    return this.#loadedAction
  }

  async #waitAsync(timeout: number | undefined): Promise<number> {
    const cells = this.cells
    const hasAction = this.#action !== undefined || this.#actionRef !== null
    // Enter (the mutex is never held across an await: see monitor.whenReady).
    const entered = await whenReady(
      cells,
      SEQ,
      () => cells[STATE] !== DRAINING && cells[STATE] !== RESETTING && cells[STATE] !== ACTION,
      () => {
        if (cells[STATE] === BROKEN) return -1
        const index = cells[COUNT]!++
        if (index + 1 === cells[PARTIES]) {
          cells[STATE] = hasAction ? ACTION : DRAINING
          if (!hasAction) bump(cells, SEQ)
        }
        return index
      },
      Infinity,
    )
    const index = entered.ok ? entered.value : -1
    if (index < 0) throw new BrokenBarrierError()
    if (index + 1 === cells[PARTIES]) {
      let failed: unknown = null
      if (hasAction) {
        try {
          const fn = await this.#getAction()
          await fn?.()
        } catch (error) {
          failed = error ?? new Error('barrier action failed')
        }
      }
      locked(cells, () => {
        if (failed !== null) this.#break()
        else if (hasAction) {
          cells[STATE] = DRAINING
          bump(cells, SEQ)
        }
        this.#exit()
      })
      if (failed !== null) throw failed
      return index
    }
    const released = (): boolean => cells[STATE] !== FILLING && cells[STATE] !== ACTION
    const woke = await whenReady(
      cells,
      SEQ,
      released,
      () => {
        const state = cells[STATE]!
        this.#exit()
        return state
      },
      deadlineOf(timeout),
    )
    if (!woke.ok) {
      // Timed out: break the barrier, unless it let us go just now.
      const state = locked(cells, () => {
        if (!released()) this.#break()
        const st = cells[STATE]!
        this.#exit()
        return st
      })
      if (state === BROKEN) throw new BrokenBarrierError(`Barrier.wait() timed out after ${timeout} ms; the barrier is broken`)
      if (state < 0) throw new BrokenBarrierError()
      return index
    }
    if (woke.value < 0) throw new BrokenBarrierError()
    return index
  }

  /** With the mutex held: a party leaves; the last one out of a drain or reset refills. */
  #exit(): void {
    const cells = this.cells
    cells[COUNT]!--
    if (cells[COUNT] === 0 && (cells[STATE] === RESETTING || cells[STATE] === DRAINING)) {
      cells[STATE] = FILLING
      bump(cells, SEQ)
    }
  }

  /** With the mutex held. */
  #break(): void {
    this.cells[STATE] = BROKEN
    bump(this.cells, SEQ)
  }

  /** Breaks the barrier: current and future waiters get BrokenBarrierError until `reset()`. */
  abort(): void {
    if (this.remote !== null) return this.cast('abort')
    lockCells(this.cells)
    this.#break()
    unlockCells(this.cells)
  }

  /** Returns the barrier to its initial state; current waiters get BrokenBarrierError. */
  reset(): void {
    if (this.remote !== null) return this.cast('reset')
    const cells = this.cells
    lockCells(cells)
    if (cells[COUNT]! > 0) {
      if (cells[STATE] === FILLING || cells[STATE] === BROKEN) cells[STATE] = RESETTING
    } else {
      cells[STATE] = FILLING
    }
    bump(cells, SEQ)
    unlockCells(cells)
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[]): unknown {
    switch (method) {
      case 'wait':
        return this.#waitAsync(args[0] as number | undefined)
      case 'abort':
        return this.abort()
      case 'reset':
        return this.reset()
    }
    throw new TypeError(`internal: Barrier has no remote method ${method}`)
  }
}

registerShareable('multiproc.Barrier', (data) => {
  const barrier = reviveAs(Barrier, data as PrimitiveData)
  return barrier
})

/** Python's `multiprocessing.Event`: a flag that tasks can wait for. */
import { registerShareable } from '../wire/shareable.js'
import { kBrokerCall } from './broker.js'
import { deadlineOf } from '../internal/deadline.js'
import { assertCanBlock, bump, lockCells, unlockCells, waitUntilSync, whenReady } from './monitor.js'
import { Primitive, reviveAs, type PrimitiveData } from './primitive.js'
import { parseTimeout, type TimeoutOptions } from './acquire_options.js'

const SEQ = 1
const FLAG = 2

/**
 * A flag shared by threads and processes (Python's `multiprocessing.Event`):
 * `set()`, `clear()`, `isSet()`, and `await wait()` until it is set.
 *
 * @example
 * const started = new Event()
 * executor.submit(workUntilStopped, started)
 * console.log(await started.wait({ timeout: 5000 })) // true once a task called started.set()
 */
export class Event extends Primitive {
  constructor() {
    super(3)
  }

  protected get shareInfo() {
    return { type: 'multiproc.Event', module: import.meta.url }
  }

  /**
   * Whether the flag is set.
   * @throws UnsupportedBackendError in a child process (the state lives in the parent; `await event.wait({ timeout: 0 })` works there)
   */
  isSet(): boolean {
    if (this.remote !== null) throw this.notReadableRemote('Event.isSet()')
    return Atomics.load(this.cells, FLAG) === 1
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    if (this.remote !== null) return this.cast('set')
    this.#setTo(1)
  }

  /** Clears the flag. */
  clear(): void {
    if (this.remote !== null) return this.cast('clear')
    this.#setTo(0)
  }

  /** Waits until the flag is set; resolves true, or false when the timeout passed first. */
  async wait(options?: TimeoutOptions): Promise<boolean> {
    const timeout = parseTimeout(options)
    if (this.remote !== null) return (await this.call('wait', [timeout])) as boolean
    return this.#waitAsync(timeout)
  }

  /** The blocking form of `wait`, for worker threads. */
  waitSync(options?: TimeoutOptions): boolean {
    const timeout = parseTimeout(options)
    if (this.remote !== null) throw this.notRemote('Event.waitSync()')
    assertCanBlock('Event.waitSync()')
    const cells = this.cells
    lockCells(cells)
    try {
      return waitUntilSync(cells, SEQ, () => cells[FLAG] === 1, deadlineOf(timeout))
    } finally {
      unlockCells(cells)
    }
  }

  async #waitAsync(timeout: number | undefined): Promise<boolean> {
    const cells = this.cells
    return (await whenReady(cells, SEQ, () => cells[FLAG] === 1, () => true, deadlineOf(timeout))).ok
  }

  #setTo(value: number): void {
    lockCells(this.cells)
    this.cells[FLAG] = value
    unlockCells(this.cells)
    if (value === 1) bump(this.cells, SEQ)
  }

  /** @internal */
  [kBrokerCall](method: string, args: unknown[]): unknown {
    switch (method) {
      case 'set':
        return this.#setTo(1)
      case 'clear':
        return this.#setTo(0)
      case 'wait':
        return this.#waitAsync(args[0] as number | undefined)
    }
    throw new TypeError(`internal: Event has no remote method ${method}`)
  }
}

registerShareable('multiproc.Event', (data) => reviveAs(Event, data as PrimitiveData))

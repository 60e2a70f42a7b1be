/**
 * Moving instead of copying: an ArrayBuffer or MessagePort in a transfer
 * list is moved to the other side (detached here) at no cost. `transfer()`
 * marks a task's return value for it; `submitWith({ transfer })` does the
 * same for arguments.
 */
import type { TransferListItem } from 'node:worker_threads'

/** Anything that can be moved instead of copied: ArrayBuffer, MessagePort, ... */
export type Transferable = TransferListItem

const kTransfer = Symbol.for('multiproc.Transfer')

/** A value to be moved (not copied) to the other side, with its transfer list. */
export interface Transfer<T> {
  /** The value the other side receives. */
  readonly value: T
  /** The buffers moved with it (detached on this side). */
  readonly transferList: readonly Transferable[]
  /** Marks a Transfer, so that a plain object with the same fields is not mistaken for one. */
  readonly [kTransfer]: true
}

/**
 * Marks a task's return value for transfer instead of copy: the buffers in
 * `transferList` (default: `value` itself when it is an ArrayBuffer, or its
 * `.buffer` when it is a typed array) are moved to the caller at no cost.
 *
 * @returns a Transfer wrapping `value`; the caller receives `value` itself
 * @example
 * export function render(): Transfer<Uint8Array> {
 *   const pixels = new Uint8Array(64 << 20)
 *   return transfer(pixels) // moved, not copied
 * }
 */
export function transfer<T>(value: T, transferList?: readonly Transferable[]): Transfer<T> {
  let list = transferList
  if (list === undefined) {
    if (value instanceof ArrayBuffer) list = [value]
    else if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) list = [value.buffer]
    else list = []
  }
  return Object.freeze({ value, transferList: list, [kTransfer]: true as const })
}

export function isTransfer(value: unknown): value is Transfer<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kTransfer] === true
}

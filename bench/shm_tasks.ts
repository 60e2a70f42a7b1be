// Tasks of bench/shared_memory.ts.
import type { SharedMemory } from '../src/index.js'

/** Sums [start, end) of a block's Float64 cells in place: nothing is copied. */
export function sumShared(shm: SharedMemory, start: number, end: number): number {
  const xs = shm.view(Float64Array)
  let sum = 0
  for (let i = start; i < end; i++) sum += xs[i]!
  return sum
}

/** Sums a Float64Array the worker received as a copy. */
export function sumCopy(xs: Float64Array): number {
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += xs[i]!
  return sum
}

export function noop(): void {}

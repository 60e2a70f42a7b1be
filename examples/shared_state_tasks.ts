// Tasks of examples/shared_state.ts.
import type { DictProxy, LockProxy, SharedMemory, ValueProxy } from '../src/index.js'

/** Scales [start, end) of a Float64 block in place and returns the slice's sum. */
export function scaleSlice(shm: SharedMemory, start: number, end: number, factor: number): number {
  const xs = shm.view(Float64Array)
  let sum = 0
  for (let i = start; i < end; i++) sum += (xs[i] = xs[i]! * factor)
  return sum
}

/** Records a slice's sum in a shared dict and adds it to a shared total under a shared lock. */
export async function recordSum(results: DictProxy<string, number>, total: ValueProxy<number>, lock: LockProxy, key: string, sum: number): Promise<void> {
  await results.set(key, sum)
  await lock.acquire()
  try {
    await total.set((await total.get()) + sum)
  } finally {
    await lock.release()
  }
}

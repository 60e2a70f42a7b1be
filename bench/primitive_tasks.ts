// Targets for bench/primitives.ts: each runs `n` operations and reports the
// microseconds per operation on `out`.
import type { Lock, Queue, Value } from '../src/index.js'

export async function lockOps(lock: Lock, n: number, out: Queue<number>): Promise<void> {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    await lock.acquire()
    lock.release()
  }
  await out.put(((performance.now() - t0) * 1000) / n)
}

export function lockOpsSync(lock: Lock, n: number, out: Queue<number>): void {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    lock.acquireSync()
    lock.release()
  }
  out.putSync(((performance.now() - t0) * 1000) / n)
}

/** put then get of one small item. */
export async function queueOps(q: Queue<number>, n: number, out: Queue<number>): Promise<void> {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    await q.put(i)
    await q.get()
  }
  await out.put(((performance.now() - t0) * 1000) / n)
}

/** read then write. */
export async function valueOps(v: Value<'i32'>, n: number, out: Queue<number>): Promise<void> {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) v.value = v.value + 1
  await out.put(((performance.now() - t0) * 1000) / n)
}

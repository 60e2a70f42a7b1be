// Per-operation cost of the primitives: in the main thread, in a worker
// thread (shared memory), in a child process (the parent as broker).
//   node --import tsx bench/primitives.ts
import { Lock, Queue, Value, getContext, type Context } from '../src/index.js'
import { lockOps, lockOpsSync, queueOps, valueOps } from './primitive_tasks.js'

const N_THREAD = 100_000
const N_PROCESS = 5_000

async function inWorker(ctx: Context, target: (...args: any[]) => unknown, args: unknown[]): Promise<number> {
  const out = new Queue<number>()
  const p = new ctx.Process({ target, args: [...args, out] })
  p.start()
  await p.join()
  return out.get()
}

const rows: [string, string, number][] = []
const fmt = (us: number): string => `${us.toFixed(2)} µs`

{
  const lock = new Lock()
  const t0 = performance.now()
  for (let i = 0; i < N_THREAD; i++) {
    await lock.acquire()
    lock.release()
  }
  rows.push(['Lock acquire + release', 'main thread (async)', ((performance.now() - t0) * 1000) / N_THREAD])
  const q = new Queue<number>()
  const t1 = performance.now()
  for (let i = 0; i < N_THREAD; i++) {
    await q.put(i)
    await q.get()
  }
  rows.push(['Queue put + get', 'main thread (async)', ((performance.now() - t1) * 1000) / N_THREAD])
}

const thread = getContext('thread')
const proc = getContext('process')
rows.push(['Lock acquire + release', 'worker thread (async)', await inWorker(thread, lockOps, [new Lock(), N_THREAD])])
rows.push(['Lock acquire + release', 'worker thread (acquireSync)', await inWorker(thread, lockOpsSync, [new Lock(), N_THREAD])])
rows.push(['Lock acquire + release', 'child process (broker)', await inWorker(proc, lockOps, [new Lock(), N_PROCESS])])
rows.push(['Queue put + get', 'worker thread', await inWorker(thread, queueOps, [new Queue(), N_THREAD])])
rows.push(['Queue put + get', 'child process (broker)', await inWorker(proc, queueOps, [new Queue(), N_PROCESS])])
rows.push(['Value read + write', 'worker thread (SharedArrayBuffer)', await inWorker(thread, valueOps, [new Value('i32', 0), N_THREAD])])
rows.push(['Value read + write', 'child process (/dev/shm file)', await inWorker(proc, valueOps, [new proc.Value('i32', 0), N_THREAD])])

console.log('| operation | where | per operation |')
console.log('|---|---|---|')
for (const [op, where, us] of rows) console.log(`| ${op} | ${where} | ${fmt(us)} |`)

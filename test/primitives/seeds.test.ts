// The seed programs' master-worker patterns, as written, on every context:
// pi with a task queue, a result queue and (-1, -1) sentinels; the primes in
// two phases with the same workers' queues; 4 workers x 10k increments of a
// shared Value under a Lock.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lock, Queue } from '../../src/index.js'
import { increment, incrementSync, piWorker, primesWorker } from '../fixtures/primitives.js'
import { contexts, runAll } from './contexts.js'

function primesBelow(n: number): number[] {
  const out: number[] = []
  for (let k = 2; k < n; k++) {
    let prime = true
    for (let d = 2; d * d <= k; d++) if (k % d === 0) (prime = false)
    if (prime) out.push(k)
  }
  return out
}

for (const ctx of contexts()) {
  describe(`seed programs [${ctx.name}]`, () => {
    it('pi: tQueue of (start, end) tasks, rQueue of partial sums, (-1, -1) sentinels', async () => {
      const steps = 1_000_000
      const chunks = 40
      const workers = 4
      const tQueue = new Queue<[number, number]>()
      const rQueue = new Queue<number>()
      const ps = Array.from({ length: workers }, () => new ctx.Process({ target: piWorker, args: [tQueue, rQueue, steps] }))
      for (const p of ps) p.start()
      const size = steps / chunks
      for (let i = 0; i < chunks; i++) await tQueue.put([i * size, (i + 1) * size])
      for (let i = 0; i < workers; i++) await tQueue.put([-1, -1])
      let pi = 0
      for (let i = 0; i < chunks; i++) pi += await rQueue.get()
      for (const p of ps) await p.join()
      assert.ok(Math.abs(pi - Math.PI) < 1e-9, `pi = ${pi}`)
      assert.deepEqual(ps.map((p) => p.exitCode), [0, 0, 0, 0])
      assert.equal(tQueue.qsize(), 0)
    })

    it('primes in two phases: the same queues, new workers, results complete and in range', async () => {
      const tQueue = new Queue<[number, number]>()
      const rQueue = new Queue<number[]>()
      const found: number[] = []
      for (const [lo, hi] of [
        [0, 5000],
        [5000, 10000],
      ] as const) {
        const ps = [0, 1, 2].map(() => new ctx.Process({ target: primesWorker, args: [tQueue, rQueue] }))
        for (const p of ps) p.start()
        const step = 500
        let tasks = 0
        for (let a = lo; a < hi; a += step, tasks++) await tQueue.put([a, Math.min(hi, a + step)])
        for (let i = 0; i < ps.length; i++) await tQueue.put([-1, -1])
        for (let i = 0; i < tasks; i++) found.push(...(await rQueue.get()))
        for (const p of ps) await p.join()
      }
      assert.deepEqual(found.sort((a, b) => a - b), primesBelow(10000))
    })

    it('4 workers x 10k increments of a shared Value under a Lock is exact', async () => {
      const lock = new Lock()
      const counter = new ctx.Value('i32', 0, { lock: false })
      await runAll([0, 1, 2, 3].map(() => new ctx.Process({ target: increment, args: [lock, counter, 10_000] })))
      assert.equal(counter.value, 40_000)
    })

    if (ctx.name === 'thread') {
      it('the same with the blocking forms inside worker threads, and the value\'s own lock', async () => {
        const counter = new ctx.Value('i32', 0)
        await runAll([0, 1, 2, 3].map(() => new ctx.Process({ target: incrementSync, args: [counter.getLock() as Lock, counter, 10_000] })))
        assert.equal(counter.value, 40_000)
      })
    }
  })
}

// executor.stats() and pool.stats(): counts by outcome, wait and run histograms, per-worker activity, on every backend.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool, type ExecutorStats, type HistogramSnapshot, type StartMethod } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'

function assertHistogram(h: HistogramSnapshot, what: string): void {
  assert.ok(h.count > 0, `${what}: empty`)
  assert.ok(h.p50 <= h.p90 && h.p90 <= h.p99 && h.p99 <= h.max, `${what}: percentiles not monotone: ${JSON.stringify(h)}`)
  assert.ok(h.mean >= 0 && h.mean <= h.max, `${what}: mean ${h.mean} outside [0, ${h.max}]`)
  let total = 0
  for (let i = 0; i < h.buckets.length; i++) {
    total += h.buckets[i]!.count
    if (i > 0) assert.ok(h.buckets[i]!.le > h.buckets[i - 1]!.le, `${what}: buckets out of order`)
  }
  assert.equal(total, h.count, `${what}: bucket counts do not add up`)
}

function assertBalanced(s: ExecutorStats): void {
  assert.equal(s.submitted, s.succeeded + s.failed + s.cancelled + s.pending, JSON.stringify(s))
}

for (const backend of backends()) {
  describe(`stats [${backend.name}]`, () => {
    it('counts every task by its outcome, and they add up to what was submitted', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      assert.equal(await ex.submit(T.square, 1), 1)
      const blocker = ex.submit(T.sleep, 300)
      const cancelled = [ex.submit(T.square, 2), ex.submit(T.square, 3)]
      for (const f of cancelled) assert.equal(f.cancel(), true)
      const ok = Array.from({ length: 10 }, (_, i) => ex.submit(T.failOn, i, 99))
      const bad = [ex.submit(T.failOn, 99, 99), ex.submit(T.failOn, 99, 99)]
      const during = ex.stats()
      assertBalanced(during)
      assert.ok(during.pending > 0)
      await blocker
      await Promise.all(ok)
      await Promise.allSettled(bad)
      const s = ex.stats()
      assertBalanced(s)
      assert.equal(s.submitted, 16)
      assert.equal(s.succeeded, 12)
      assert.equal(s.failed, 2)
      assert.equal(s.cancelled, 2)
      assert.equal(s.pending, 0)
      assert.equal(s.crashed, 0)
      assert.ok(s.workersStarted >= 1)
      assertHistogram(s.waitTime, 'waitTime')
      assertHistogram(s.runTime, 'runTime')
      assert.ok(s.runTime.max >= 250, `the 300 ms task ran ${s.runTime.max} ms`)
      assert.ok(s.waitTime.count >= 12, `waitTime counts ${s.waitTime.count} dispatched tasks`)
    })

    it('says how busy each worker was since the previous call', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      assert.equal(await ex.submit(T.square, 1), 1)
      ex.stats() // starts the window
      await Promise.all([ex.submit(T.sleep, 150), ex.submit(T.sleep, 150)])
      const s = ex.stats()
      assert.ok(s.perWorker.length >= 1, JSON.stringify(s.perWorker))
      const busiest = Math.max(...s.perWorker.map((w) => w.busy))
      assert.ok(busiest > 0.3, `busiest worker ${busiest}: ${JSON.stringify(s.perWorker)}`)
      assert.equal(s.perWorker.reduce((n, w) => n + w.tasks, 0), 3)
      for (const w of s.perWorker) assert.match(w.worker, /worker/)
      const idle = ex.stats()
      assert.ok(Math.max(...idle.perWorker.map((w) => w.busy)) < 0.5, 'a new window starts at each call')
    })

    it('Pool.stats() is its executor\'s', async () => {
      await using pool = new Pool({ processes: 2, context: backend.name as StartMethod })
      assert.deepEqual(await pool.map(T.square, [1, 2, 3, 4, 5]), [1, 4, 9, 16, 25])
      const s = pool.stats()
      assertBalanced(s)
      assert.ok(s.succeeded >= 1 && s.failed === 0, JSON.stringify(s))
      assertHistogram(s.runTime, 'runTime')
    })

    if (backend.isolated && backend.sameMachine) {
      it('counts a task whose worker died as crashed, and a run again under retries as retried', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'multiproc-stats-'))
        try {
          await using ex = backend.create({ maxWorkers: 1 })
          await assert.rejects(ex.submit(T.exitWorker, 3))
          assert.equal(await ex.submitWith({ retries: 1 }, T.crashOnce, join(dir, 'marker')), 'second time lucky')
          const s = ex.stats()
          assert.equal(s.crashed, 1)
          assert.equal(s.failed, 1)
          assert.equal(s.retried, 1)
          assert.equal(s.succeeded, 1)
          assert.ok(s.workersStarted >= 3, `workers started ${s.workersStarted}`)
          assertBalanced(s)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })
    }
  })
}

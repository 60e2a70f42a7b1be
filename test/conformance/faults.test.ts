// Crashing workers: only the crashed task fails (or is retried), the worker is
// replaced, every other task completes, nothing hangs.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WorkerCrashedError, task } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'
import { fixtures, rejection } from '../helpers.js'

for (const backend of backends().filter((b) => b.isolated)) {
  describe(`faults [${backend.name}]`, () => {
    it('process.exit() in a task fails that task only; the others complete', async () => {
      await using ex = backend.create({ maxWorkers: 2 })
      const before = Array.from({ length: 20 }, (_, i) => ex.submit(T.slowSquare, i, 5))
      const crash = ex.submit(T.exitWorker, 3)
      const after = Array.from({ length: 20 }, (_, i) => ex.submit(T.square, i))
      const error = await rejection(crash)
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.equal(error.exitCode, 3)
      assert.equal(error.code, 'ERR_MP_WORKER_CRASHED')
      assert.match(error.message, /exited with code 3 while running task exitWorker/)
      assert.match(String(error.task), /exitWorker/)
      assert.deepEqual(await Promise.all(before), before.map((_, i) => i * i))
      assert.deepEqual(await Promise.all(after), after.map((_, i) => i * i))
    })

    it('an uncaught error in a timer fails the running task with it as the cause', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const error = await rejection(ex.submit(T.throwInTimer, 'late failure'))
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.match(error.message, /late failure/)
      assert.equal((error.cause as Error).message, 'late failure')
      assert.equal(await ex.submit(T.square, 6), 36)
    })

    it('a crash amid a burst of tiny tasks loses none of them', async () => {
      await using ex = backend.create({ maxWorkers: 2 })
      const futures = []
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 500; i++) futures.push(ex.submit(T.square, i))
        futures.push(ex.submit(T.exitWorker, 1))
      }
      const results = await Promise.allSettled(futures)
      const crashed = results.filter((r) => r.status === 'rejected')
      assert.equal(crashed.length, 5)
      for (const r of crashed) assert.ok((r as PromiseRejectedResult).reason instanceof WorkerCrashedError)
      const values = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)
      assert.equal(values.length, 2500)
      assert.deepEqual(values, Array.from({ length: 2500 }, (_, i) => (i % 500) ** 2))
    })

    it('runs a crashed task again when retries allow it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-'))
      try {
        await using ex = backend.create({ maxWorkers: 1, retries: 1 })
        assert.equal(await ex.submit(T.crashOnce, join(dir, 'marker')), 'second time lucky')
        const noRetry = ex.submitWith({ retries: 0 }, T.crashOnce, join(dir, 'other'))
        assert.ok((await rejection(noRetry)) instanceof WorkerCrashedError)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('a task module that kills its worker while loading fails the task that needed it, once', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const before = ex.submit(T.square, 3)
      const error = await rejection(ex.submit(task<() => number>(new URL('exits_on_import.ts', fixtures), 'never')))
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.equal(error.exitCode, 5)
      assert.match(String(error.task), /never/)
      assert.equal(await before, 9)
      assert.equal(await ex.submit(T.square, 4), 16)
    })

    if (backend.resourceLimits) {
      it('a worker out of memory under resourceLimits fails its task with WorkerCrashedError', async () => {
        await using ex = backend.create({ maxWorkers: 1, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } })
        const error = await rejection(ex.submit(T.allocateForever))
        assert.ok(error instanceof WorkerCrashedError, String(error))
        assert.match(error.message, /out of memory/)
        assert.equal(await ex.submit(T.square, 3), 9)
      })
    }
  })
}

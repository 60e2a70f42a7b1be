// A bounded submission queue (`maxQueue`): submit beyond it throws Full, submitWhenRoom waits, on every backend.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BrokenExecutorError, Full } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'
import { rejection } from '../helpers.js'

for (const backend of backends()) {
  describe(`maxQueue [${backend.name}]`, () => {
    it('submit() beyond maxQueue throws Full; nothing submitted before is lost', async () => {
      await using ex = backend.create({ maxQueue: 3 })
      assert.equal(await ex.submit(T.square, 2), 4) // the module is known: nothing waits on its check
      const accepted: Promise<number>[] = []
      let refused: unknown = null
      for (let i = 0; i < 100 && refused === null; i++) {
        try {
          accepted.push(ex.submit(T.slowSquare, i, 30) as unknown as Promise<number>)
        } catch (error) {
          refused = error
        }
      }
      assert.ok(refused instanceof Full, `expected Full, got ${String(refused)}`)
      assert.equal((refused as Full).code, 'ERR_MP_QUEUE_FULL')
      assert.match((refused as Error).message, /maxQueue/)
      assert.match((refused as Error).message, /submitWhenRoom/)
      // The queue holds 3; what went straight to an idle worker is not queued.
      assert.ok(accepted.length >= 3 && accepted.length <= 3 + ex.maxWorkers, `accepted ${accepted.length}`)
      assert.deepEqual(await Promise.all(accepted), accepted.map((_, i) => i * i))
    })

    it('submitWhenRoom() waits for room, in order, and the queue never holds more than maxQueue', async () => {
      await using ex = backend.create({ maxQueue: 2 })
      const futures = []
      let most = 0
      for (let i = 0; i < 30; i++) {
        futures.push(await ex.submitWhenRoom(T.slowSquare, i, 5))
        most = Math.max(most, ex.stats().queued)
      }
      assert.ok(most <= 2, `the queue held ${most}`)
      assert.deepEqual(await Promise.all(futures), futures.map((_, i) => i * i))
      const withOptions = await ex.submitWithWhenRoom({ timeout: 10_000 }, T.square, 9)
      assert.equal(await withOptions, 81)
    })

    it('submitters still waiting for room are refused once the executor shuts down', async () => {
      const ex = backend.create({ maxQueue: 1, maxWorkers: 1 })
      assert.equal(await ex.submit(T.square, 2), 4)
      const busy: unknown[] = []
      for (let i = 0; i < 20; i++) {
        try {
          busy.push(ex.submit(T.sleep, 300))
        } catch {
          break
        }
      }
      const waiting = ex.submitWhenRoom(T.square, 5)
      const shutdown = ex.shutdown({ cancelFutures: true })
      const error = await rejection(waiting)
      assert.ok(error instanceof BrokenExecutorError, String(error))
      await shutdown
      await assert.rejects(ex.submitWhenRoom(T.square, 1), BrokenExecutorError)
    })

    it('refuses a maxQueue that is not a positive integer', () => {
      assert.throws(() => backend.create({ maxQueue: 0 }), RangeError)
      assert.throws(() => backend.create({ maxQueue: 1.5 }), RangeError)
    })
  })
}

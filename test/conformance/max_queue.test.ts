// A bounded submission queue (`maxQueue`): submit beyond it throws Full, waitForRoom() waits for room, on every backend.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BrokenExecutorError, CancelledError, Full, TimeoutError } from '../../src/index.js'
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
      assert.match((refused as Error).message, /waitForRoom/)
      // The queue holds 3; what went straight to an idle worker is not queued.
      assert.ok(accepted.length >= 3 && accepted.length <= 3 + ex.maxWorkers, `accepted ${accepted.length}`)
      assert.deepEqual(await Promise.all(accepted), accepted.map((_, i) => i * i))
    })

    it('waitForRoom() holds the producer back: the queue never holds more than maxQueue, and nothing is lost', async () => {
      await using ex = backend.create({ maxQueue: 2 })
      const futures = []
      let most = 0
      for (let i = 0; i < 30; i++) {
        await ex.waitForRoom()
        futures.push(ex.submit(T.slowSquare, i, 5))
        most = Math.max(most, ex.stats().queued)
      }
      assert.ok(most <= 2, `the queue held ${most}`)
      assert.ok(futures.some((f) => !f.done()), 'the producer ran ahead of the tasks: waitForRoom() waited for results, not for room')
      assert.deepEqual(await Promise.all(futures), futures.map((_, i) => i * i))
    })

    it('producers that wait for room in parallel are served in order, and their submit never throws Full', async () => {
      await using ex = backend.create({ maxQueue: 2 })
      const order: number[] = []
      const producer = async (id: number): Promise<unknown[]> => {
        const futures = []
        for (let i = 0; i < 8; i++) {
          await ex.waitForRoom()
          order.push(id)
          futures.push(ex.submitWith({ timeout: 60_000 }, T.slowSquare, id * 100 + i, 3))
        }
        return Promise.all(futures)
      }
      const results = await Promise.all([1, 2, 3].map(producer))
      assert.deepEqual(results, [1, 2, 3].map((id) => Array.from({ length: 8 }, (_, i) => (id * 100 + i) ** 2)))
      assert.equal(order.length, 24)
    })

    it('callers still waiting for room are refused once the executor shuts down', async () => {
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
      const waiting = ex.waitForRoom()
      const shutdown = ex.shutdown({ cancelFutures: true })
      const error = await rejection(waiting)
      assert.ok(error instanceof BrokenExecutorError, String(error))
      await shutdown
      await assert.rejects(ex.waitForRoom(), BrokenExecutorError)
    })

    it('waitForRoom({ timeout, signal }) gives up with TimeoutError or CancelledError, and the place goes to the next caller', async () => {
      await using ex = backend.create({ maxQueue: 1, maxWorkers: 1 })
      assert.equal(await ex.submit(T.square, 2), 4)
      // Tasks with a timeout run alone on a worker, so the queued one stays queued while the first runs.
      const busy = [ex.submitWith({ timeout: 60_000 }, T.sleep, 400)]
      for (let i = 0; i < 200 && ex.stats().running === 0; i++) await new Promise((r) => setTimeout(r, 5))
      for (let i = 0; i < 10; i++) {
        try {
          busy.push(ex.submitWith({ timeout: 60_000 }, T.sleep, 50))
        } catch {
          break
        }
      }
      const started = performance.now()
      const late = await rejection(ex.waitForRoom({ timeout: 50 }))
      assert.ok(late instanceof TimeoutError, String(late))
      assert.match(late.message, /waitForRoom\(\) timed out after 50 ms/)
      assert.ok(performance.now() - started < 350, 'it did not wait for the room to come')
      const controller = new AbortController()
      const aborted = ex.waitForRoom({ signal: controller.signal })
      const next = ex.waitForRoom() // behind the one that gives up
      controller.abort()
      assert.ok((await rejection(aborted)) instanceof CancelledError)
      await next
      const f = ex.submit(T.square, 3)
      assert.equal(await f, 9)
      await Promise.all(busy)
      await assert.rejects(ex.waitForRoom({ timeout: 'soon' as never }), TypeError)
      await assert.rejects(ex.waitForRoom({ timeout: 10, colour: 'red' } as never), RangeError)
    })

    it('refuses a maxQueue that is not a positive integer', () => {
      assert.throws(() => backend.create({ maxQueue: 0 }), RangeError)
      assert.throws(() => backend.create({ maxQueue: 1.5 }), RangeError)
    })
  })
}

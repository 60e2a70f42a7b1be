// Futures, cancellation, timeouts, options and shutdown, on every backend.
// (Whether an executor keeps its program alive: program_lifetime.test.ts.)
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  ALL_COMPLETED,
  BrokenExecutorError,
  CancelledError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  TimeoutError,
  asCompleted,
  wait,
} from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'
import { rejection } from '../helpers.js'

for (const backend of backends()) {
  describe(`lifecycle [${backend.name}]`, () => {
    it(backend.cancelsRunning ? 'cancels a queued Future and a running one' : 'cancels a queued Future, not a running one', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const running = ex.submit(T.sleep, 200)
      const queued = ex.submit(T.square, 3)
      // Until the first task is handed to the worker (its module is verified first, which takes longer under load); bounded.
      for (let i = 0; i < 500 && !running.running(); i++) await new Promise((r) => setTimeout(r, 10))
      assert.equal(running.running(), true)
      assert.equal(running.cancel(), backend.cancelsRunning)
      assert.equal(queued.cancel(), true)
      assert.equal(queued.cancelled(), true)
      assert.ok((await rejection(queued)) instanceof CancelledError)
      if (backend.cancelsRunning) {
        assert.equal(running.cancelled(), true)
        assert.ok((await rejection(running)) instanceof CancelledError)
      } else assert.equal(await running, 200)
    })

    it('a running task that times out is stopped and its Future fails with TimeoutError', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      // Synchronous tasks can only be stopped where workers can be terminated.
      const f = backend.preemptive ? ex.submitWith({ timeout: 100 }, T.sleepSync, 60_000) : ex.submitWith({ timeout: 100 }, T.sleep, 6_000)
      const start = performance.now()
      const error = await rejection(f)
      assert.ok(error instanceof TimeoutError, String(error))
      assert.match(error.message, /timed out after 100 ms while running/)
      assert.ok(performance.now() - start < 5_000, 'settled at the timeout, not when the task would have ended')
      // The worker was replaced: the next task runs.
      assert.equal(await ex.submit(T.square, 4), 16)
    })

    it('a queued task that times out is dropped', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const blocker = ex.submit(T.sleep, 300)
      const queued = ex.submitWith({ timeout: 50 }, T.square, 2)
      const error = await rejection(queued)
      assert.ok(error instanceof TimeoutError)
      assert.match(error.message, /before it started/)
      assert.equal(await blocker, 300)
    })

    it('aborting a signal cancels a running task for real', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const controller = new AbortController()
      const f = backend.preemptive
        ? ex.submitWith({ signal: controller.signal }, T.sleepSync, 60_000)
        : ex.submitWith({ signal: controller.signal }, T.sleep, 2_000)
      setTimeout(() => controller.abort(new Error('user said stop')), 100)
      const error = await rejection(f)
      assert.ok(error instanceof CancelledError, String(error))
      assert.equal(f.cancelled(), true)
      assert.equal((error.cause as Error).message, 'user said stop')
      assert.equal(await ex.submit(T.square, 5), 25)
    })

    it('an already aborted signal gives a cancelled Future', async () => {
      await using ex = backend.create()
      const f = ex.submitWith({ signal: AbortSignal.abort() }, T.square, 1)
      assert.equal(f.cancelled(), true)
      assert.ok((await rejection(f)) instanceof CancelledError)
    })

    it('refuses bad per-task options', () => {
      const ex = backend.create()
      assert.throws(() => ex.submitWith({ timeout: -1 }, T.square, 1), /Expected `timeout` to be a number of milliseconds >= 0/)
      assert.throws(() => ex.submitWith({ signal: 'no' as never }, T.square, 1), /AbortSignal/)
      assert.throws(() => ex.submitWith({ priority: 1 } as never, T.square, 1), /Unknown option `priority`/)
      return ex.shutdown()
    })

    it('wait() and asCompleted() work on executor Futures', async () => {
      await using ex = backend.create()
      const fast = ex.submit(T.sleep, 1)
      // A wide margin: a cluster worker may have to start a thread for the fast task.
      const slow = ex.submit(T.sleep, 3_000)
      const first = await wait([fast, slow], { returnWhen: FIRST_COMPLETED })
      assert.ok(first.done.has(fast), 'the fast task is done first')
      assert.ok(first.notDone.has(slow), 'the slow task is not done yet')
      const order: number[] = []
      for await (const f of asCompleted([slow, fast])) order.push(await f.result())
      assert.deepEqual(order, [1, 3_000])
      const bad = ex.submit(T.throwError, 'Error')
      const exc = await wait([bad, ex.submit(T.sleep, 300)], { returnWhen: FIRST_EXCEPTION })
      assert.ok(exc.done.has(bad), 'the failed task is done')
      const all = await wait([fast, slow, bad], { returnWhen: ALL_COMPLETED })
      assert.equal(all.notDone.size, 0)
    })

    if (backend.initializer) {
      it('runs the initializer once per worker with initargs', async () => {
        await using ex = backend.create({ initializer: T.init, initargs: [{ tag: 'ready' }] })
        assert.deepEqual(await ex.submit(T.readInit), { tag: 'ready' })
      })

      it('a failing initializer breaks the executor with a clear error, and no Future hangs', async () => {
        const ex = backend.create({ initializer: T.badInit })
        const futures = [ex.submit(T.square, 1), ex.submit(T.square, 2)]
        for (const f of futures) {
          const error = await rejection(f)
          assert.ok(error instanceof BrokenExecutorError, String(error))
          assert.match(error.message, /initializer badInit/)
          assert.equal((error.cause as Error).message, "initializer exploded")
        }
        assert.throws(() => ex.submit(T.square, 3), BrokenExecutorError)
        await ex.shutdown()
      })
    }

    if (backend.maxTasksPerChild) {
      it('replaces a worker after maxTasksPerChild tasks', async () => {
        await using ex = backend.create({ maxWorkers: 1, maxTasksPerChild: 2 })
        const ids: string[] = []
        for (let i = 0; i < 6; i++) ids.push(await ex.submit(T.whoAmI))
        if (backend.isolated) {
          assert.equal(new Set(ids).size, 3, ids.join(' '))
          assert.equal(ids[0], ids[1])
          assert.notEqual(ids[1], ids[2])
        }
      })
    }

    it(`runs at most maxWorkers tasks at once`, async () => {
      const maxWorkers = backend.parallel ? 2 : 1
      await using ex = backend.create({ maxWorkers })
      // Start the workers first, so that the measured tasks find all of them ready: on a busy
      // machine a process worker can take longer to boot than the other worker takes to run them all.
      const seen = new Set<string>()
      for (let round = 0; round < 50 && seen.size < maxWorkers; round++) {
        for (const id of await Promise.all(Array.from({ length: maxWorkers }, () => ex.submit(T.sleepThenWhoAmI, 30)))) seen.add(id)
      }
      assert.equal(seen.size, backend.isolated ? maxWorkers : 1, `workers seen: ${[...seen].join(' ')}`)
      // Each round must stay within maxWorkers; on a loaded machine one worker may be descheduled
      // through a whole round, so rounds repeat (at most 5) until one shows every worker busy at once.
      let best = 0
      for (let round = 0; round < 5 && best < maxWorkers; round++) {
        let peak = 0
        if (backend.sharedMemory) {
          const counter = new Int32Array(new SharedArrayBuffer(8))
          await Promise.all(Array.from({ length: 8 }, () => ex.submit(T.trackConcurrency, counter, 30)))
          assert.equal(Atomics.load(counter, 0), 0)
          peak = Atomics.load(counter, 1)
        } else {
          // No shared memory: compare when the tasks ran.
          const spans = await Promise.all(Array.from({ length: 8 }, () => ex.submit(T.span, 50)))
          const events = spans.flatMap(([start, end]) => [[start, 1] as const, [end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
          let running = 0
          for (const [, delta] of events) peak = Math.max(peak, (running += delta))
        }
        assert.ok(peak <= maxWorkers, `peak ${peak}`)
        best = Math.max(best, peak)
      }
      if (backend.parallel) assert.equal(best, 2, 'both workers were used')
    })

    if (backend.parallel && backend.sharedMemory) {
      it('runs tasks on several workers at the same time', async () => {
        await using ex = backend.create({ maxWorkers: 2 })
        const counter = new Int32Array(new SharedArrayBuffer(4))
        const met = await Promise.all([ex.submit(T.rendezvous, counter, 2, 20_000), ex.submit(T.rendezvous, counter, 2, 20_000)])
        assert.deepEqual(met, [true, true])
      })
    }

    it('refuses bad options with the template message', () => {
      if (backend.name !== 'inline') {
        assert.throws(
          () => backend.create({ maxWorkers: -1 }),
          (e: any) => e instanceof RangeError && e.message === 'Expected `maxWorkers` to be a positive integer, got -1',
        )
      }
      assert.throws(() => backend.create({ maxTaskPerChild: 3 } as never), /Unknown option `maxTaskPerChild`/)
      assert.throws(() => backend.create({ initargs: 'x' as never }), /initargs/)
    })

    it('shutdown() waits for pending work, then refuses new tasks', async () => {
      const ex = backend.create()
      const futures = [1, 2, 3].map((x) => ex.submit(T.slowSquare, x, 30))
      await ex.shutdown()
      for (const f of futures) assert.equal(f.done(), true)
      assert.deepEqual(await Promise.all(futures), [1, 4, 9])
      assert.throws(() => ex.submit(T.square, 1), (e: any) => e instanceof BrokenExecutorError && /after shutdown/.test(e.message))
      assert.throws(() => ex.map(T.square, [1]), BrokenExecutorError)
      await ex.shutdown() // twice is fine
    })

    it('shutdown({ cancelFutures }) cancels what has not started', async () => {
      const ex = backend.create({ maxWorkers: 1 })
      const running = ex.submit(T.sleep, 100)
      const queued = Array.from({ length: 5 }, () => ex.submit(T.square, 2))
      await new Promise((r) => setTimeout(r, 30))
      await ex.shutdown({ cancelFutures: true })
      assert.equal(await running, 100)
      for (const f of queued) assert.equal(f.cancelled(), true)
    })

    it('shutdown({ wait: false }) returns at once and every Future still settles', async () => {
      const ex = backend.create()
      const futures = [1, 2, 3].map((x) => ex.submit(T.slowSquare, x, 50))
      await ex.shutdown({ wait: false })
      assert.deepEqual(await Promise.all(futures), [1, 4, 9])
    })
  })
}

/**
 * CPython's Lib/test/_test_multiprocessing.py, the queue cases (_TestQueue),
 * on the thread and process contexts. Test names are CPython's.
 *
 * Adapted:
 * - Python's `put(obj, block, timeout)` is `await q.put(obj, { blocking, timeout })`
 *   (milliseconds); `put_nowait`/`get_nowait` are `putNowait`/`getNowait`;
 *   `queue.Full`/`queue.Empty` are Full/Empty.
 * - `queue_full(q, maxsize)` reads `q.full()`; CPython's "sleep a bit, the
 *   values may be in a buffer" is not needed: a put is in the queue when it
 *   returns (there is no feeder thread).
 * - A closed queue: put throws QueueClosedError (Python: ValueError "is
 *   closed"); get returns what is left, then throws QueueClosedError.
 * - Left out: the feeder-thread cases (test_queue_feeder_*), import-lock
 *   contention, and shutdown() (Python 3.13's Queue.shutdown has no
 *   counterpart here).
 * - Added, for issue "read-only properties in a child": `maxsize` read in the worker.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Empty, Event, Full, JoinableQueue, Queue, QueueClosedError } from '../../src/index.js'
import { rejection } from '../helpers.js'
import { contexts } from '../primitives/contexts.js'
import * as T from './tasks.js'

describe('CPython _TestQueue (one process)', () => {
  it('test_qsize', async () => {
    const q = new Queue<number>()
    assert.equal(q.qsize(), 0)
    await q.put(1)
    assert.equal(q.qsize(), 1)
    await q.put(5)
    assert.equal(q.qsize(), 2)
    await q.get()
    assert.equal(q.qsize(), 1)
    await q.get()
    assert.equal(q.qsize(), 0)
  })

  it('test_timeout', async () => {
    const q = new Queue<number>()
    const start = performance.now()
    assert.ok((await rejection(q.get({ timeout: 200 }))) instanceof Empty)
    assert.ok(performance.now() - start >= 100)
  })

  it('test_closed_queue_put_get_exceptions', async () => {
    for (const q of [new Queue<string>(), new JoinableQueue<string>()]) {
      q.close()
      assert.ok((await rejection(q.put('foo'))) instanceof QueueClosedError)
      assert.ok((await rejection(q.get())) instanceof QueueClosedError)
    }
  })

  it('test_closed_queue_empty_exceptions (empty() of a closed queue does not throw)', () => {
    for (const q of [new Queue<string>(), new JoinableQueue<string>()]) {
      q.close()
      q.joinThread()
      assert.ok(q.empty())
    }
  })
})

for (const ctx of contexts()) {
  describe(`CPython _TestQueue [${ctx.name}]`, { concurrency: 3 }, () => {
    it('test_put', async () => {
      const MAXSIZE = 6
      const queue = new Queue<number>({ maxsize: MAXSIZE })
      const childCanStart = new Event()
      const parentCanContinue = new Event()
      const proc = new ctx.Process({ target: T.queueTestPut, args: [queue, childCanStart, parentCanContinue] })
      proc.start()
      assert.equal(queue.empty(), true)
      assert.equal(queue.full(), false)
      await queue.put(1)
      await queue.put(2, { blocking: true })
      await queue.put(3, { blocking: true, timeout: undefined })
      await queue.put(4, { blocking: false })
      await queue.put(5, { blocking: false, timeout: undefined })
      queue.putNowait(6)
      assert.equal(queue.empty(), false)
      assert.equal(queue.full(), true)
      assert.ok((await rejection(queue.put(7, { blocking: false }))) instanceof Full)
      assert.throws(() => queue.putNowait(7), Full)
      assert.ok((await rejection(queue.put(7, { blocking: true, timeout: 100 }))) instanceof Full)
      assert.ok((await rejection(queue.put(7, { blocking: false, timeout: 100 }))) instanceof Full)
      assert.ok((await rejection(queue.put(7, { timeout: 100 }))) instanceof Full)
      childCanStart.set()
      await parentCanContinue.wait({ timeout: 30_000 })
      assert.equal(queue.empty(), true)
      assert.equal(queue.full(), false)
      await proc.join()
    })

    it('test_get', async () => {
      const queue = new Queue<number>()
      const childCanStart = new Event()
      const parentCanContinue = new Event()
      const proc = new ctx.Process({ target: T.queueTestGet, args: [queue, childCanStart, parentCanContinue] })
      proc.start()
      assert.equal(queue.empty(), true)
      childCanStart.set()
      await parentCanContinue.wait({ timeout: 30_000 })
      assert.equal(queue.empty(), false)
      assert.equal(await queue.get({ blocking: true, timeout: undefined }), 2)
      assert.equal(await queue.get({ blocking: true }), 3)
      assert.equal(await queue.get({ timeout: 1000 }), 4)
      assert.equal(queue.getNowait(), 5)
      assert.equal(queue.empty(), true)
      assert.ok((await rejection(queue.get({ blocking: false }))) instanceof Empty)
      assert.throws(() => queue.getNowait(), Empty)
      assert.ok((await rejection(queue.get({ blocking: true, timeout: 100 }))) instanceof Empty)
      assert.ok((await rejection(queue.get({ blocking: false, timeout: 100 }))) instanceof Empty)
      assert.ok((await rejection(queue.get({ timeout: 100 }))) instanceof Empty)
      await proc.join()
    })

    it('test_fork', async () => {
      const queue = new Queue<number>()
      for (let i = 0; i < 10; i++) await queue.put(i)
      const p = new ctx.Process({ target: T.queueTestFork, args: [queue] })
      p.start()
      for (let i = 0; i < 20; i++) assert.equal(await queue.get({ timeout: 30_000 }), i)
      assert.ok((await rejection(queue.get({ blocking: false }))) instanceof Empty)
      await p.join()
    })

    it('test_task_done', async () => {
      const queue = new JoinableQueue<number | null>()
      const workers = [0, 1, 2, 3].map(() => new ctx.Process({ target: T.queueTestTaskDone, args: [queue] }))
      for (const p of workers) p.start()
      for (let i = 0; i < 10; i++) await queue.put(i)
      assert.equal(await queue.join({ timeout: 30_000 }), true)
      for (const _ of workers) await queue.put(null)
      for (const p of workers) await p.join()
    })

    it('maxsize is readable in the worker', async () => {
      const q = new Queue<number>({ maxsize: 7 })
      const out = new Queue<number>()
      const p = new ctx.Process({ target: T.queueReportMaxsize, args: [q, out] })
      p.start()
      await p.join()
      assert.equal(p.exitCode, 0, String(p.error))
      assert.equal(await out.get({ timeout: 1000 }), 7)
    })
  })
}

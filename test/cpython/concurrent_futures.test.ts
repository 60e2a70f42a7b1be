/**
 * CPython's Lib/test/test_concurrent_futures: test_future.py (FutureTests),
 * test_wait.py (WaitTests), test_as_completed.py (AsCompletedTests),
 * test_shutdown.py and executor.py (ExecutorTest), on the thread, process and
 * inline executors. Test names are CPython's.
 *
 * Adapted:
 * - CPython builds Futures in each state with private setters; here a Future
 *   is driven through its public executor-side methods
 *   (setRunningOrNotifyCancel, setResult, setException, cancel).
 * - Python has two cancelled states, CANCELLED and CANCELLED_AND_NOTIFIED
 *   (the second set only by an executor); here a cancelled Future is done,
 *   so `wait` puts CANCELLED_FUTURE in `done` where CPython puts it in `not_done`.
 * - `result()`/`exception()` are Promises; timeouts are milliseconds; Python's
 *   `event.wait` tasks are sleeps of a few hundred milliseconds.
 * - Executor.map is an async iterator that reads its input lazily: an input
 *   error comes after the results before it, where CPython's map reads the
 *   whole input first (test_map_exception's task error is the same in both).
 * - Left out: test_repr, gc/weakref cases, keyword arguments, logging of a
 *   raising done callback (here it is a process warning, checked by the unit tests).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  ALL_COMPLETED,
  BrokenExecutorError,
  CancelledError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Event,
  Future,
  InlineExecutor,
  InvalidStateError,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
  TimeoutError,
  asCompleted,
  wait,
  type Executor,
} from '../../src/index.js'
import { rejection } from '../helpers.js'
import * as T from './tasks.js'

const EXCEPTION = new Error('EXCEPTION')
function pendingFuture(): Future<number> {
  return new Future<number>()
}
function runningFuture(): Future<number> {
  const f = new Future<number>()
  f.setRunningOrNotifyCancel()
  return f
}
function cancelledFuture(): Future<number> {
  const f = new Future<number>()
  f.cancel()
  return f
}
function exceptionFuture(): Future<number> {
  const f = new Future<number>()
  f.setRunningOrNotifyCancel()
  f.setException(EXCEPTION)
  return f
}
function successfulFuture(): Future<number> {
  const f = new Future<number>()
  f.setRunningOrNotifyCancel()
  f.setResult(42)
  return f
}

describe('CPython test_future FutureTests', () => {
  it('test_done_callback_with_result', async () => {
    let result: unknown = null
    const f = new Future<number>()
    f.addDoneCallback((fut) => void fut.result().then((v) => (result = v)))
    f.setResult(5)
    await f
    await new Promise((r) => setImmediate(r))
    assert.equal(result, 5)
  })

  it('test_done_callback_with_exception', async () => {
    let exception: unknown = null
    const f = new Future<number>()
    f.addDoneCallback((fut) => void fut.exception().then((e) => (exception = e)))
    f.setException(new Error('test'))
    await rejection(f.result())
    await new Promise((r) => setImmediate(r))
    assert.equal((exception as Error).message, 'test')
  })

  it('test_done_callback_with_cancel', () => {
    let wasCancelled: boolean | null = null
    const f = new Future<number>()
    f.addDoneCallback((fut) => (wasCancelled = fut.cancelled()))
    assert.ok(f.cancel())
    assert.equal(wasCancelled, true)
  })

  it('test_done_callback_already_successful / _failed / _cancelled', () => {
    const seen: string[] = []
    successfulFuture().addDoneCallback((f) => seen.push(f.state))
    exceptionFuture().addDoneCallback((f) => seen.push(f.state))
    cancelledFuture().addDoneCallback((f) => seen.push(f.state))
    assert.deepEqual(seen, ['FINISHED', 'FINISHED', 'CANCELLED'])
  })

  it('test_cancel', () => {
    const [f1, f2, f3, f4, f5] = [pendingFuture(), runningFuture(), cancelledFuture(), exceptionFuture(), successfulFuture()]
    assert.ok(f1.cancel())
    assert.equal(f1.state, 'CANCELLED')
    assert.ok(!f2.cancel())
    assert.equal(f2.state, 'RUNNING')
    assert.ok(f3.cancel())
    assert.equal(f3.state, 'CANCELLED')
    assert.ok(!f4.cancel())
    assert.equal(f4.state, 'FINISHED')
    assert.ok(!f5.cancel())
    assert.equal(f5.state, 'FINISHED')
  })

  it('test_cancelled / test_done / test_running', () => {
    const states = [pendingFuture(), runningFuture(), cancelledFuture(), exceptionFuture(), successfulFuture()]
    assert.deepEqual(states.map((f) => f.cancelled()), [false, false, true, false, false])
    assert.deepEqual(states.map((f) => f.done()), [false, false, true, true, true])
    assert.deepEqual(states.map((f) => f.running()), [false, true, false, false, false])
  })

  it('test_result_with_timeout', async () => {
    assert.ok((await rejection(pendingFuture().result({ timeout: 0 }))) instanceof TimeoutError)
    assert.ok((await rejection(runningFuture().result({ timeout: 0 }))) instanceof TimeoutError)
    assert.ok((await rejection(cancelledFuture().result({ timeout: 0 }))) instanceof CancelledError)
    assert.equal(await rejection(exceptionFuture().result({ timeout: 0 })), EXCEPTION)
    assert.equal(await successfulFuture().result({ timeout: 0 }), 42)
  })

  it('test_result_with_success / test_result_with_cancel', async () => {
    const f1 = pendingFuture()
    setTimeout(() => f1.setResult(42), 20)
    assert.equal(await f1.result({ timeout: 5000 }), 42)
    const f2 = pendingFuture()
    setTimeout(() => f2.cancel(), 20)
    assert.ok((await rejection(f2.result({ timeout: 5000 }))) instanceof CancelledError)
  })

  it('test_exception_with_timeout / test_exception_with_success', async () => {
    assert.ok((await rejection(pendingFuture().exception({ timeout: 0 }))) instanceof TimeoutError)
    assert.ok((await rejection(cancelledFuture().exception({ timeout: 0 }))) instanceof CancelledError)
    assert.equal(await exceptionFuture().exception({ timeout: 0 }), EXCEPTION)
    assert.equal(await successfulFuture().exception({ timeout: 0 }), undefined)
    const f = pendingFuture()
    setTimeout(() => f.setException(EXCEPTION), 20)
    assert.equal(await f.exception({ timeout: 5000 }), EXCEPTION)
  })

  it('test_multiple_set_result / test_multiple_set_exception', () => {
    const f = pendingFuture()
    f.setResult(1)
    assert.throws(() => f.setResult(2), InvalidStateError)
    assert.throws(() => f.setException(new Error()), InvalidStateError)
    const g = pendingFuture()
    g.setException(new Error('a'))
    assert.throws(() => g.setException(new Error('b')), InvalidStateError)
  })
})

const executors: [string, () => Executor][] = (
  [
    ['thread', () => new ThreadPoolExecutor({ maxWorkers: 2 })],
    ['process', () => new ProcessPoolExecutor({ maxWorkers: 2 })],
    ['inline', () => new InlineExecutor()],
  ] as [string, () => Executor][]
).filter(([name]) => process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim()).includes(name) ?? true)

for (const [name, create] of executors) {
  describe(`CPython test_concurrent_futures [${name}]`, { concurrency: 3 }, () => {
    it('WaitTests.test_20369', async () => {
      // A Future passed twice is one Future.
      await using executor = create()
      const future = executor.submit(T.sqr, 2, 100)
      const { done, notDone } = await wait([future, future])
      assert.deepEqual(done, new Set([future]))
      assert.equal(notDone.size, 0)
    })

    it('WaitTests.test_first_completed', async () => {
      await using executor = create()
      const future1 = executor.submit(T.mul, 21, 2)
      const future2 = executor.submit(T.sqr, 1, 1500)
      await future1
      const cancelled = cancelledFuture()
      const { done, notDone } = await wait([cancelled, future1, future2], { returnWhen: FIRST_COMPLETED })
      assert.deepEqual(done, new Set([cancelled, future1]))
      assert.deepEqual(notDone, new Set([future2]))
    })

    it('WaitTests.test_first_completed_some_already_completed', async () => {
      await using executor = create()
      const future1 = executor.submit(T.sqr, 1, 1500)
      const { done, notDone } = await wait([successfulFuture(), future1].reverse(), { returnWhen: FIRST_COMPLETED })
      assert.equal(done.size, 1)
      assert.equal([...done][0]!.state, 'FINISHED')
      assert.deepEqual(notDone, new Set([future1]))
    })

    it('WaitTests.test_first_exception', async () => {
      await using executor = create()
      const event = new Event()
      const future1 = executor.submit(T.mul, 2, 21)
      const future2 = executor.submit(T.raiseLargeValueError, 200)
      // CPython's third task waits on an event; set at the end, so the test does not depend on timing.
      const future3 = executor.submit(T.blockUntil, event, 60_000)
      try {
        await future1
        const { done, notDone } = await wait([future1, future2, future3], { returnWhen: FIRST_EXCEPTION })
        assert.deepEqual(done, new Set([future1, future2]))
        assert.deepEqual(notDone, new Set([future3]))
      } finally {
        event.set()
      }
    })

    it('WaitTests.test_first_exception_some_already_complete', async () => {
      await using executor = create()
      const future1 = executor.submit(T.raiseLargeValueError, 0)
      const future2 = executor.submit(T.sqr, 1, 1500)
      await rejection(future1.result())
      const succeeded = successfulFuture()
      const { done, notDone } = await wait([succeeded, cancelledFuture(), future1, future2].filter((f) => f !== undefined), {
        returnWhen: FIRST_EXCEPTION,
      })
      assert.ok(done.has(succeeded) && done.has(future1))
      assert.deepEqual(notDone, new Set([future2]))
    })

    it('WaitTests.test_first_exception_one_already_failed', async () => {
      await using executor = create()
      const future1 = executor.submit(T.sqr, 1, 1000)
      const failed = exceptionFuture()
      const { done, notDone } = await wait([failed, future1], { returnWhen: FIRST_EXCEPTION })
      assert.deepEqual(done, new Set([failed]))
      assert.deepEqual(notDone, new Set([future1]))
    })

    it('WaitTests.test_all_completed', async () => {
      await using executor = create()
      const future1 = executor.submit(T.raiseLargeValueError, 0)
      const future2 = executor.submit(T.mul, 2, 21)
      const fs = [successfulFuture(), cancelledFuture(), exceptionFuture(), future1, future2]
      const { done, notDone } = await wait(fs, { returnWhen: ALL_COMPLETED })
      assert.deepEqual(done, new Set(fs))
      assert.equal(notDone.size, 0)
    })

    it('WaitTests.test_timeout', async () => {
      await using executor = create()
      const future = executor.submit(T.sqr, 1, 2000)
      const fs = [exceptionFuture(), successfulFuture(), future]
      const { done, notDone } = await wait(fs, { timeout: 200 })
      assert.deepEqual(done, new Set(fs.slice(0, 2)))
      assert.deepEqual(notDone, new Set([future]))
    })

    it('AsCompletedTests.test_no_timeout', async () => {
      await using executor = create()
      const future1 = executor.submit(T.mul, 2, 21)
      const future2 = executor.submit(T.mul, 7, 6)
      const fs = [cancelledFuture(), exceptionFuture(), successfulFuture(), future1, future2]
      const completed = new Set<unknown>()
      for await (const f of asCompleted(fs)) completed.add(f)
      assert.deepEqual(completed, new Set(fs))
    })

    it('AsCompletedTests.test_future_times_out', async () => {
      await using executor = create()
      const future = executor.submit(T.sqr, 1, 2000)
      const already = [cancelledFuture(), exceptionFuture(), successfulFuture()]
      const completed = new Set<unknown>()
      const error = await rejection(
        (async () => {
          for await (const f of asCompleted([...already, future], { timeout: 100 })) completed.add(f)
        })(),
      )
      assert.ok(error instanceof TimeoutError)
      // test_correct_timeout_exception_msg: the message says how many are left.
      assert.match((error as Error).message, /1/)
      assert.deepEqual(completed, new Set(already))
    })

    it('AsCompletedTests.test_duplicate_futures', async () => {
      await using executor = create()
      const future1 = executor.submit(T.sqr, 2, 50)
      const completed: unknown[] = []
      for await (const f of asCompleted([future1, future1, future1])) completed.push(f)
      assert.equal(completed.length, 1)
    })

    it('ExecutorTest.test_submit / test_map', async () => {
      await using executor = create()
      assert.equal(await executor.submit(T.mul, 2, 8), 16)
      const out: number[] = []
      for await (const v of executor.map(T.mul, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])) out.push(v)
      assert.deepEqual(out, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81])
      const chunked: number[] = []
      for await (const v of executor.map(T.mul, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], { chunksize: 2 })) chunked.push(v)
      assert.deepEqual(chunked, out)
    })

    it('ExecutorTest.test_map_exception', async () => {
      await using executor = create()
      // CPython: divmod(1, 0) raises on the second item. Here a task that throws on its second input.
      const failing = executor.map(T.parseIntStrict, ['1', 'x', '3'])
      assert.deepEqual(await failing.next(), { done: false, value: 1 })
      assert.ok((await rejection(failing.next())) instanceof TypeError)
    })

    // chunksize 1 as CPython's thread executor: with 'auto', the slow item may share a chunk with the one before it.
    it('ExecutorTest.test_map_timeout', async () => {
      await using executor = create()
      // Workers started first, so that the timeout measures the tasks (CPython's numbers: 5 s against a 6 s task).
      await Promise.all([executor.submit(T.sqr, 0), executor.submit(T.sqr, 0)])
      const results: number[] = []
      const error = await rejection(
        (async () => {
          for await (const v of executor.map(T.sqr, [1, 2, 3], [0, 0, 6000], { timeout: 5000, chunksize: 1 })) results.push(v)
        })(),
      )
      assert.ok(error instanceof TimeoutError)
      assert.deepEqual(results, [1, 4])
    })

    it('Executor.map: the results read before an input error, then the error (Pool.imap\'s test_imap_handle_iterable_exception)', async () => {
      await using executor = create()
      function* input(): Generator<number> {
        yield 0
        yield 1
        yield 2
        throw new RangeError('input failed')
      }
      const results: number[] = []
      const error = await rejection(
        (async () => {
          for await (const v of executor.map(T.sqr, input(), { chunksize: 1 })) results.push(v)
        })(),
      )
      assert.ok(error instanceof RangeError && error.message === 'input failed')
      assert.deepEqual(results, [0, 1, 4])
    })

    it('ExecutorShutdownTest.test_run_after_shutdown', async () => {
      const executor = create()
      await executor.shutdown()
      assert.throws(() => executor.submit(T.mul, 2, 5), BrokenExecutorError)
    })

    it('ExecutorShutdownTest.test_cancel_futures', async () => {
      const executor = create()
      const fs = Array.from({ length: 20 }, () => executor.submit(T.sqr, 1, 100))
      await executor.shutdown({ cancelFutures: true })
      const cancelled = fs.filter((f) => f.cancelled())
      // Some were cancelled; the ones that ran finished.
      assert.ok(cancelled.length > 0, 'some queued futures were cancelled')
      for (const f of fs) assert.ok(f.done())
    })

    it('ExecutorShutdownTest.test_shutdown_no_wait / test_hang_issue12364', async () => {
      const executor = create()
      const fs = Array.from({ length: 6 }, (_, i) => executor.submit(T.sqr, i, 50))
      await executor.shutdown({ wait: false })
      // Every future still settles (the queued work runs).
      assert.deepEqual(await Promise.all(fs.map((f) => f.result({ timeout: 30_000 }))), [0, 1, 4, 9, 16, 25])
    })

    it('ExecutorTest.test_max_workers_negative', { skip: name === 'inline' && 'one worker by definition' }, () => {
      const Ctor = name === 'thread' ? ThreadPoolExecutor : ProcessPoolExecutor
      for (const n of [0, -1]) assert.throws(() => new Ctor({ maxWorkers: n }), RangeError)
    })
  })
}

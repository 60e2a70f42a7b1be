/**
 * CPython's Lib/test/_test_multiprocessing.py, the pool cases: _TestPool,
 * _TestPoolWorkerErrors and _TestPoolWorkerLifetime. Test names are
 * CPython's; each runs on the thread, process and inline contexts (CPython's
 * 'threads' and 'processes'), except where a case needs what a context lacks
 * (a preemptible or isolated worker).
 *
 * Adapted:
 * - Python's blocking `map`/`apply` are Promises; `imap` is an async
 *   iterator; `next(it)` is `await it.next()`; `StopIteration` is `done`.
 * - Python's ValueError for bad arguments is RangeError here; its
 *   multiprocessing.TimeoutError is TimeoutError; MaybeEncodingError (a result
 *   that cannot be pickled) is SerializationError; using a closed pool is
 *   InvalidStateError. KeyError from `raising()` is a RangeError.
 * - `sqr`'s wait is in milliseconds; test_terminate's 10 000 tasks of a long
 *   sleep are 200 tasks of 30 s; test_unpickleable_result runs 5 rounds, not 20;
 *   test_pool_worker_lifetime runs 40 tasks, not 100.
 * - Python's `len(p._pool)` and `p._repopulate_pool()` are internals: worker
 *   identity is read from the tasks instead (which worker ran each).
 * - Left out: kwargs (there are none in JavaScript), test_release_task_refs and
 *   test_resource_warning (garbage collection), test_enter (no `with` on a pool
 *   that is not running: `await using` disposes once).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidStateError, Pool, SerializationError, TimeoutError, type StartMethod } from '../../src/index.js'
import { rejection } from '../helpers.js'
import * as T from './tasks.js'

class SayWhenError extends RangeError {
  override name = 'SayWhenError'
}
/** CPython's exception_throwing_generator(total, when). */
function* exceptionThrowingGenerator(total: number, when: number): Generator<number> {
  if (when === -1) throw new SayWhenError('Somebody said when')
  for (let i = 0; i < total; i++) {
    if (i === when) throw new SayWhenError('Somebody said when')
    yield i
  }
}
const range = (n: number): number[] => [...Array(n).keys()]
/**
 * The error of `f()`, thrown or rejected: Pool.map reads a synchronous input
 * at once, so an input error is thrown by the call itself, as Python's map raises.
 */
async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f()
  } catch (error) {
    return error
  }
  assert.fail('expected an error')
}
const sq = (x: number): number => x * x

const names = (process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim()) ?? ['thread', 'process', 'inline']).filter((n) =>
  ['thread', 'process', 'inline'].includes(n),
) as StartMethod[]

for (const context of names) {
  const isolated = context !== 'inline'
  const newPool = (processes = 2, options: Record<string, unknown> = {}): Pool => new Pool({ processes, context, ...options })

  describe(`CPython _TestPool [${context}]`, { concurrency: 4 }, () => {
    it('test_apply', async () => {
      await using pool = newPool()
      assert.equal(await pool.apply(T.sqr, [5]), 25)
    })

    it('test_map', async () => {
      await using pool = newPool()
      assert.deepEqual(await pool.map(T.sqr, range(10)), range(10).map(sq))
      assert.deepEqual(await pool.map(T.sqr, range(100), { chunksize: 20 }), range(100).map(sq))
    })

    it('test_starmap / test_starmap_async', async () => {
      await using pool = newPool()
      const tuples = (n: number): [number, number][] => range(n).map((i) => [i, n - 1 - i])
      assert.deepEqual(await pool.starmap(T.mul, tuples(10)), tuples(10).map(([a, b]) => a * b))
      assert.deepEqual(await pool.starmap(T.mul, tuples(100), { chunksize: 20 }), tuples(100).map(([a, b]) => a * b))
      assert.deepEqual(await pool.starmapAsync(T.mul, tuples(100)).get(), tuples(100).map(([a, b]) => a * b))
    })

    it('test_map_async', async () => {
      await using pool = newPool()
      assert.deepEqual(await pool.mapAsync(T.sqr, range(10)).get(), range(10).map(sq))
    })

    it('test_map_async_callbacks', async () => {
      await using pool = newPool()
      const callArgs: unknown[] = []
      const push = (v: unknown): void => void callArgs.push(v)
      await pool.mapAsync(T.parseIntStrict, ['1'], { callback: push, errorCallback: push }).wait()
      assert.equal(callArgs.length, 1)
      assert.deepEqual(callArgs[0], [1])
      await pool.mapAsync(T.parseIntStrict, ['a'], { callback: push, errorCallback: push }).wait()
      assert.equal(callArgs.length, 2)
      assert.ok(callArgs[1] instanceof TypeError)
    })

    it('test_map_unplicklable', { skip: !isolated && 'inline workers take arguments as they are' }, async () => {
      await using pool = newPool()
      const unsendable = { f: () => 42 }
      assert.ok((await rejection(pool.map(T.identity, Array(10).fill(unsendable)))) instanceof SerializationError)
      assert.deepEqual(await pool.map(T.sqr, [3]), [9], 'the pool still works')
    })

    it('test_map_chunksize', async () => {
      await using pool = newPool()
      assert.deepEqual(await pool.mapAsync(T.sqr, [], { chunksize: 1 }).get({ timeout: 1000 }), [])
    })

    it('test_map_handle_iterable_exception', async () => {
      await using pool = newPool()
      for (let i = 0; i < 2; i++) assert.ok((await caught(() => pool.map(T.sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 }))) instanceof SayWhenError)
      assert.ok((await caught(() => pool.map(T.sqr, exceptionThrowingGenerator(10, 3), { chunksize: 1 }))) instanceof SayWhenError)
      const specialIterable = {
        [Symbol.iterator]() {
          return this
        },
        next(): IteratorResult<number> {
          throw new SayWhenError()
        },
      }
      for (let i = 0; i < 2; i++) assert.ok((await caught(() => pool.map(T.sqr, specialIterable, { chunksize: 1 }))) instanceof SayWhenError)
    })

    it('test_async', async () => {
      await using pool = newPool()
      assert.equal(await pool.applyAsync(T.sqr, [7, 100]).get(), 49)
    })

    it('test_async_timeout', { skip: !isolated && 'an inline task cannot be stopped' }, async () => {
      const p = newPool(3)
      try {
        const res = p.applyAsync(T.sqr, [6, 30_000])
        assert.ok((await rejection(res.get({ timeout: 100 }))) instanceof TimeoutError)
      } finally {
        await p.terminate()
      }
    })

    it('test_imap', async () => {
      await using pool = newPool()
      const collect = async (it: AsyncIterable<number>): Promise<number[]> => {
        const out: number[] = []
        for await (const v of it) out.push(v)
        return out
      }
      assert.deepEqual(await collect(pool.imap(T.sqr, range(10))), range(10).map(sq))
      let it = pool.imap(T.sqr, range(10))
      for (let i = 0; i < 10; i++) assert.deepEqual(await it.next(), { done: false, value: i * i })
      assert.equal((await it.next()).done, true)
      it = pool.imap(T.sqr, range(1000), { chunksize: 100 })
      for (let i = 0; i < 1000; i++) assert.equal((await it.next()).value, i * i)
      assert.equal((await it.next()).done, true)
    })

    it('test_imap_handle_iterable_exception', async () => {
      await using pool = newPool()
      // SayWhenError seen at the very first of the iterable (twice: reentrant).
      for (let n = 0; n < 2; n++) {
        const it = pool.imap(T.sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 })
        assert.ok((await rejection(it.next())) instanceof SayWhenError)
      }
      let it = pool.imap(T.sqr, exceptionThrowingGenerator(10, 3), { chunksize: 1 })
      for (let i = 0; i < 3; i++) assert.deepEqual(await it.next(), { done: false, value: i * i })
      assert.ok((await rejection(it.next())) instanceof SayWhenError)
      // SayWhenError seen at the start of the problematic chunk's results.
      it = pool.imap(T.sqr, exceptionThrowingGenerator(20, 7), { chunksize: 2 })
      for (let i = 0; i < 6; i++) assert.deepEqual(await it.next(), { done: false, value: i * i })
      assert.ok((await rejection(it.next())) instanceof SayWhenError)
      it = pool.imap(T.sqr, exceptionThrowingGenerator(20, 7), { chunksize: 4 })
      for (let i = 0; i < 4; i++) assert.deepEqual(await it.next(), { done: false, value: i * i })
      assert.ok((await rejection(it.next())) instanceof SayWhenError)
    })

    it('test_imap_unordered', async () => {
      await using pool = newPool()
      const sorted = async (it: AsyncIterable<number>): Promise<number[]> => {
        const out: number[] = []
        for await (const v of it) out.push(v)
        return out.sort((a, b) => a - b)
      }
      assert.deepEqual(await sorted(pool.imapUnordered(T.sqr, range(10))), range(10).map(sq))
      assert.deepEqual(await sorted(pool.imapUnordered(T.sqr, range(1000), { chunksize: 100 })), range(1000).map(sq))
    })

    it('test_imap_unordered_handle_iterable_exception', async () => {
      await using pool = newPool()
      for (let n = 0; n < 2; n++) {
        const it = pool.imapUnordered(T.sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 })
        assert.ok((await rejection(it.next())) instanceof SayWhenError)
      }
      for (const [total, when, chunksize] of [
        [10, 3, 1],
        [20, 7, 2],
      ] as const) {
        const it = pool.imapUnordered(T.sqr, exceptionThrowingGenerator(total, when), { chunksize })
        const expected = range(total).map(sq)
        const seen: number[] = []
        const error = await rejection(
          (async () => {
            for (let i = 0; i < total; i++) {
              const { value } = await it.next()
              assert.ok(expected.includes(value), String(value))
              expected.splice(expected.indexOf(value), 1)
              seen.push(value)
            }
          })(),
        )
        assert.ok(error instanceof SayWhenError, String(error))
        // Stricter than CPython (which lets the error come at any point): every whole chunk read before it came first.
        const whole = Math.floor(when / chunksize) * chunksize
        assert.deepEqual(seen.sort((a, b) => a - b), range(whole).map(sq))
      }
    })

    it('test_make_pool', () => {
      assert.throws(() => newPool(-1), RangeError)
      assert.throws(() => newPool(0), RangeError)
    })

    it('test_terminate', { skip: !isolated && 'an inline task cannot be stopped' }, async () => {
      const p = newPool(3)
      const result = p.mapAsync(T.sqr, range(200).map(() => 30_000), { chunksize: 1 })
      await new Promise((r) => setTimeout(r, 200))
      const t0 = performance.now()
      await p.terminate()
      await p.join()
      assert.ok(performance.now() - t0 < 20_000, 'terminate() does not wait for the tasks')
      await rejection(result.get())
    })

    it('test_empty_iterable', async () => {
      const p = newPool(1)
      assert.deepEqual(await p.map(T.sqr, []), [])
      const imapped: number[] = []
      for await (const v of p.imap(T.sqr, [])) imapped.push(v)
      for await (const v of p.imapUnordered(T.sqr, [])) imapped.push(v)
      assert.deepEqual(imapped, [])
      assert.deepEqual(await p.mapAsync(T.sqr, []).get(), [])
      p.close()
      await p.join()
    })

    it('test_context', async () => {
      const L = range(10)
      let kept: Pool
      {
        await using p = newPool(2)
        kept = p
        assert.deepEqual(await p.mapAsync(T.sqr, L).get(), L.map(sq))
      }
      await kept.join()
      assert.throws(() => kept.mapAsync(T.sqr, L), InvalidStateError)
    })

    it('test_traceback', async () => {
      {
        await using p = newPool(1)
        const exc = await rejection(p.apply(T.raiseRuntimeError123))
        assert.equal((exc as Error).constructor, Error)
        assert.equal((exc as Error).message, '123')
        // The worker's stack is in the error's: the task's frame is named.
        assert.match(String((exc as Error).stack), /raiseRuntimeError123/)
      }
      {
        // An input error is not a remote error: the very object the generator threw.
        await using p = newPool(1)
        const exc = await caught(() => p.map(T.sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 }))
        assert.ok(exc instanceof SayWhenError)
        assert.equal((exc as Error).cause, undefined)
      }
    })

    it('test_wrapped_exception', async () => {
      await using p = newPool(1)
      assert.ok((await rejection(p.apply(T.raising))) instanceof RangeError)
    })

    it('test_map_no_failfast', async () => {
      const p = newPool(2)
      let error: unknown
      try {
        await p.map(T.raiseLargeValueError, [0, 1])
      } catch (e) {
        error = e
      } finally {
        p.close()
        await p.join()
      }
      assert.ok(error instanceof RangeError)
      assert.equal((error as Error).message.length, 1024 * 1024)
    })
  })

  describe(`CPython _TestPoolWorkerErrors [${context}]`, { concurrency: 2 }, () => {
    it('test_async_error_callback', async () => {
      const p = newPool(2)
      let scratchpad: unknown = null
      const res = p.applyAsync(T.raising, [], { errorCallback: (e) => (scratchpad = e) })
      assert.ok((await rejection(res.get())) instanceof RangeError)
      assert.ok(scratchpad instanceof RangeError)
      p.close()
      await p.join()
    })

    it('test_unpickleable_result', { skip: !isolated && 'inline results are not sent anywhere' }, async () => {
      const p = newPool(2)
      for (let iteration = 0; iteration < 5; iteration++) {
        let scratchpad: unknown = null
        const res = p.applyAsync(T.unpickleableResult, [], { errorCallback: (e) => (scratchpad = e) })
        assert.ok((await rejection(res.get())) instanceof SerializationError)
        assert.ok(scratchpad instanceof SerializationError)
      }
      assert.equal(await p.apply(T.sqr, [4]), 16, 'no worker was lost')
      p.close()
      await p.join()
    })
  })

  describe(`CPython _TestPoolWorkerLifetime [${context}]`, { skip: !isolated && 'inline has no workers to replace', concurrency: 2 }, () => {
    it('test_pool_worker_lifetime', async () => {
      // CPython runs 100 tasks; 40 are enough for 3 workers of 10 tasks each to be replaced at least once.
      const p = newPool(3, { maxTasksPerChild: 10 })
      const results = range(40).map((i) => p.applyAsync(T.sqrAndWorker, [i]))
      const workers = new Set<string>()
      for (const [j, res] of results.entries()) {
        const [value, worker] = await res.get()
        assert.equal(value, j * j)
        workers.add(worker)
      }
      // Workers were replaced: more than three of them ran the tasks.
      assert.ok(workers.size > 3, `${workers.size} workers`)
      p.close()
      await p.join()
    })

    it('test_pool_worker_lifetime_early_close', async () => {
      const p = newPool(3, { maxTasksPerChild: 1 })
      const results = range(6).map((i) => p.applyAsync(T.sqr, [i, 300]))
      p.close()
      await p.join()
      for (const [j, res] of results.entries()) assert.equal(await res.get(), j * j)
    })

    it('test_pool_maxtasksperchild_invalid', () => {
      for (const value of [0, -1, 0.5]) assert.throws(() => newPool(3, { maxTasksPerChild: value }), RangeError)
      assert.throws(() => newPool(3, { maxTasksPerChild: '12' }), TypeError)
    })
  })
}

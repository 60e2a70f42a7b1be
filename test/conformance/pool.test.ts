// Pool: Python's multiprocessing.Pool API, states and faults, on every backend.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AsyncResult, CancelledError, InvalidStateError, Pool, TimeoutError, WorkerCrashedError, defaultChunksize, getContext } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import * as C from '../fixtures/chunk_tasks.js'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { backends } from './backends.js'
import { collect, rejection } from '../helpers.js'

for (const backend of backends()) {
  const context = backend.name as 'thread' | 'process' | 'inline' | 'nats'
  const processes = backend.parallel ? 2 : 1
  const newPool = (options: Record<string, unknown> = {}) => new Pool({ processes, context, ...options })

  describe(`Pool [${backend.name}]`, () => {
    it('map() hands every number to the task as it is (-0, NaN, fractions, beyond int32), and other values beside numbers', async () => {
      await using pool = newPool()
      const numbers = [0, -0, 1.5, NaN, Infinity, 2 ** 31, -(2 ** 53), 7]
      const out = await pool.map(T.identity, numbers)
      assert.equal(out.length, numbers.length)
      for (let i = 0; i < numbers.length; i++) assert.ok(Object.is(out[i], numbers[i]), `item ${i}: ${out[i]} for ${numbers[i]}`)
      // A chunk of numbers, then one that is not all numbers, then numbers again.
      assert.deepEqual(await pool.map(T.describeValue, [1, 2, 'x', 3, 4, 5], { chunksize: 2 }), ['number', 'number', 'string', 'number', 'number', 'number'])
      assert.deepEqual(await pool.map(T.square, [1, 2, 3, 4, 5], { chunksize: 2 }), [1, 4, 9, 16, 25])
    })

    if (context !== 'nats')
      it('map() of plain numbers on workers that run several items at once (lanes): every value in its place', async () => {
        await using pool = newPool({ concurrentTasksPerWorker: 4 })
        const items = Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? i : i + 0.5))
        assert.deepEqual(await pool.map(T.square, items, { chunksize: 300 }), items.map((x) => x * x))
      })

    if (backend.parallel && context !== 'nats')
      it('map() of plain numbers: a worker that dies in a chunk that sent values ahead loses nothing; the item runs again', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'multiproc-'))
        try {
          await using pool = newPool({ retries: 1, initializer: C.setMarkerDir, initargs: [dir] })
          const items = Array.from({ length: 3000 }, (_, i) => i)
          assert.deepEqual(await pool.map(C.crashOnceAt, items, { chunksize: 1500 }), items.map((x) => x * 2))
          assert.ok(existsSync(join(dir, 'm')), 'the item crashed its worker once')
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })

    it('apply() resolves to the result; applyAsync() returns an AsyncResult', async () => {
      await using pool = newPool()
      assert.equal(await pool.apply(T.add, [2, 3]), 5)
      assert.equal(await pool.apply(T.noop), undefined)
      const r = pool.applyAsync(T.square, [7])
      assert.ok(r instanceof AsyncResult)
      assert.equal(await r.get({ timeout: 30_000 }), 49)
      assert.equal(r.ready(), true)
      assert.equal(r.successful(), true)
      assert.equal(await r, 49, 'an AsyncResult is awaitable')
    })

    it('applyAsync() calls callback or errorCallback before get() returns', async () => {
      await using pool = newPool()
      const seen: unknown[] = []
      const ok = pool.applyAsync(T.square, [4], { callback: (v) => seen.push(['ok', v]) })
      assert.equal(await ok.get(), 16)
      assert.deepEqual(seen, [['ok', 16]])
      const bad = pool.applyAsync(T.throwError, ['RangeError', 'nope'], { errorCallback: (e) => seen.push(['err', (e as Error).message]) })
      const error = await rejection(bad.get())
      assert.ok(error instanceof RangeError)
      assert.deepEqual(seen[1], ['err', 'nope'])
      assert.equal(bad.successful(), false)
    })

    it('AsyncResult: successful() throws before ready, wait() and get() honour their timeout', async () => {
      await using pool = newPool()
      const r = pool.applyAsync(T.sleep, [300])
      assert.equal(r.ready(), false)
      assert.throws(() => r.successful(), InvalidStateError)
      await r.wait({ timeout: 10 })
      assert.equal(r.ready(), false, 'wait() returns at its timeout without an error')
      assert.ok((await rejection(r.get({ timeout: 10 }))) instanceof TimeoutError)
      await r.wait()
      assert.equal(r.ready(), true)
      assert.equal(await r.get(), 300, 'the work went on after the timeouts')
    })

    it('map() returns the results in order; starmap() spreads argument tuples', async () => {
      await using pool = newPool()
      const input = Array.from({ length: 100 }, (_, i) => i)
      assert.deepEqual(await pool.map(T.square, input), input.map((x) => x * x))
      assert.deepEqual(await pool.map(T.square, []), [])
      assert.deepEqual(await pool.map(T.square, new Set([3, 4]), { chunksize: 1 }), [9, 16])
      assert.deepEqual(await pool.starmap(T.add, [[1, 2], [3, 4], [5, 6]]), [3, 7, 11])
      assert.deepEqual(await pool.starmapAsync(T.pow, [[2, 10]]).get(), [1024])
      async function* numbers() {
        for (let i = 0; i < 10; i++) yield i
      }
      assert.deepEqual(await pool.map(T.square, numbers()), Array.from({ length: 10 }, (_, i) => i * i))
    })

    it('map() keeps input order when chunks finish out of order', async () => {
      await using pool = newPool()
      const delays = [40, 30, 20, 10, 0, 0]
      assert.deepEqual(await pool.starmap(T.slowSquare, delays.map((d, i) => [i, d]), { chunksize: 1 }), delays.map((_, i) => i * i))
    })

    it('map() rejects with the first failing item in input order, after every item ran', async () => {
      await using pool = newPool()
      const calls: unknown[] = []
      const r = pool.starmapAsync(T.failOn, [[1, 2], [2, 2], [3, 2], [4, 4]], { chunksize: 1, errorCallback: (e) => calls.push(e) })
      const error = await rejection(r.get())
      assert.ok(error instanceof RangeError)
      assert.equal(error.message, 'item 2 is bad')
      assert.match(String(error.stack), /pool\.test\.ts/, 'the stack shows where the map was called')
      assert.equal(calls.length, 1)
      assert.equal(calls[0], error)
    })

    it('an input that throws while read rejects map()/starmap() and settles mapAsync() with the error, as an async input does', async () => {
      await using pool = newPool()
      function* failing(): Generator<number> {
        yield 1
        throw new SyntaxError('bad input')
      }
      let mapPromise: Promise<unknown> | undefined
      assert.doesNotThrow(() => (mapPromise = pool.map(T.square, failing())), 'map() returns a Promise, it does not throw')
      assert.ok((await rejection(mapPromise!)) instanceof SyntaxError)
      let starPromise: Promise<unknown> | undefined
      assert.doesNotThrow(() => (starPromise = pool.starmap(T.add, (function* () { yield [1, 2] as [number, number]; throw new SyntaxError('bad pair') })())))
      assert.ok((await rejection(starPromise!)) instanceof SyntaxError)
      const seen: unknown[] = []
      const r = pool.mapAsync(T.square, failing(), { errorCallback: (e) => seen.push(e) })
      const error = await rejection(r.get())
      assert.ok(error instanceof SyntaxError)
      assert.deepEqual(seen, [error])
      assert.equal(await pool.apply(T.square, [3]), 9, 'the pool goes on')
    })

    it('mapAsync() calls its callback with the whole list', async () => {
      await using pool = newPool()
      let got: number[] | undefined
      const r = pool.mapAsync(T.square, [1, 2, 3], { callback: (v) => (got = v) })
      assert.deepEqual(await r, [1, 4, 9])
      assert.deepEqual(got, [1, 4, 9])
    })

    it('uses Python\'s default chunksize for map: ceil(n / (4 × processes))', () => {
      assert.equal(defaultChunksize(100, 2), 13)
      assert.equal(defaultChunksize(8, 2), 1)
      assert.equal(defaultChunksize(9, 2), 2)
      assert.equal(defaultChunksize(0, 4), 1)
    })

    it('imap() yields in input order; imapUnordered() yields every result', async () => {
      await using pool = newPool()
      const input = Array.from({ length: 300 }, (_, i) => i)
      assert.deepEqual(await collect(pool.imap(T.square, input, { chunksize: 7 })), input.map((x) => x * x))
      const unordered = await collect(pool.imapUnordered(T.square, input))
      assert.deepEqual(unordered.sort((a, b) => a - b), input.map((x) => x * x))
      const delays = [500, 0, 0, 0]
      const first = await pool.imapUnordered(T.sleep, delays, { chunksize: 1 }).next()
      if (backend.parallel) assert.equal(first.value, 0, 'a fast item comes before the slow one')
    })

    it('imap() reads an infinite input lazily, within a bounded window', async () => {
      await using pool = newPool()
      let produced = 0
      function* naturals() {
        for (let i = 0; ; i++) {
          produced++
          yield i
        }
      }
      let consumed = 0
      for await (const y of pool.imap(T.square, naturals(), { chunksize: 4, buffersize: 3 })) {
        assert.equal(y, consumed * consumed)
        if (++consumed === 50) break
      }
      assert.ok(produced <= consumed + 4 * 3 + 4, `read ${produced} items for ${consumed} results`)
    })

    it('imap() throws the first error at its position', async () => {
      await using pool = newPool()
      const seen: number[] = []
      const error = await rejection(
        (async () => {
          for await (const y of pool.imap(T.failOnThree, [1, 2, 3, 4], { chunksize: 1 })) seen.push(y)
        })(),
      )
      assert.deepEqual(seen, [10, 20])
      assert.ok(error instanceof RangeError)
      assert.equal(error.message, 'item 3 is bad')
    })

    it('close() refuses new work, join() waits for the submitted work and the workers', async () => {
      const pool = newPool()
      const r = pool.applyAsync(T.slowSquare, [5, 50])
      const m = pool.mapAsync(T.square, [1, 2, 3])
      assert.throws(() => pool.join(), (e: any) => e instanceof InvalidStateError && /Pool is still running/.test(e.message))
      pool.close()
      pool.close() // twice is fine
      assert.equal(pool.state, 'CLOSE')
      assert.throws(() => pool.apply(T.square, [1]), (e: any) => e instanceof InvalidStateError && /Pool not running/.test(e.message))
      assert.throws(() => pool.imap(T.square, [1]), InvalidStateError)
      await pool.join()
      assert.equal(r.ready(), true)
      assert.equal(await r, 25)
      assert.deepEqual(await m, [1, 4, 9])
    })

    it('an imap started before close() goes on; join() waits for it', async () => {
      const pool = newPool()
      const it = pool.imap(T.square, [1, 2, 3, 4, 5, 6], { chunksize: 1, buffersize: 1 })
      const first = await it.next()
      pool.close()
      const joined = pool.join()
      const rest: number[] = []
      for await (const y of it) rest.push(y)
      await joined
      assert.deepEqual([first.value, ...rest], [1, 4, 9, 16, 25, 36])
    })

    it('close() runs the rest of an imap nobody consumes, as Python would; join() does not wait for a consumer', async () => {
      const pool = newPool()
      let read = 0
      function* items() {
        for (let i = 0; i < 40; i++) {
          read++
          yield i
        }
      }
      const started = pool.imap(T.square, items(), { chunksize: 2, buffersize: 1 })
      assert.equal((await started.next()).value, 0)
      const untouched = pool.imapUnordered(T.square, [5, 6, 7])
      assert.ok(read < 40, 'lazy while the pool runs')
      pool.close()
      await pool.join()
      assert.equal(read, 40, 'the whole input was run')
      const rest: number[] = []
      for await (const y of started) rest.push(y)
      assert.deepEqual(rest, Array.from({ length: 39 }, (_, i) => (i + 1) ** 2))
      assert.deepEqual((await collect(untouched)).sort((a, b) => a - b), [25, 36, 49])
    })

    it('an imap left early (break) ends its work at once', async () => {
      const pool = newPool()
      for await (const y of pool.imap(T.square, [1, 2, 3, 4, 5, 6, 7, 8], { chunksize: 1, buffersize: 1 })) {
        if (y === 4) break
      }
      pool.close()
      await pool.join()
    })

    it('terminate() stops everything now and settles every pending result', async () => {
      const pool = newPool()
      const running = pool.applyAsync(T.sleep, [5_000])
      const queued = Array.from({ length: 5 }, () => pool.applyAsync(T.square, [2]))
      const mapped = pool.mapAsync(T.sleep, [5_000, 5_000])
      await new Promise((r) => setTimeout(r, 50))
      // Workers already running (a cluster) may finish tiny tasks before terminate(): those are not pending.
      const finishedBefore = new Set([running, ...queued, mapped].filter((r) => r.ready()))
      const start = performance.now()
      await pool.terminate()
      if (backend.preemptive) assert.ok(performance.now() - start < 4_000, 'did not wait for the tasks')
      assert.equal(finishedBefore.has(running) || finishedBefore.has(mapped), false, 'the long tasks were still pending')
      for (const r of [running, ...queued, mapped]) {
        assert.equal(r.ready(), true)
        if (!finishedBefore.has(r)) assert.ok((await rejection(r.get())) instanceof CancelledError)
      }
      assert.throws(() => pool.apply(T.square, [1]), /Pool not running/)
      await pool.join() // returns after terminate
      await pool.terminate() // twice is fine
    })

    it('await using closes and joins: the submitted work finishes', async () => {
      let r: AsyncResult<number>
      {
        await using pool = newPool()
        r = pool.applyAsync(T.slowSquare, [6, 50])
      }
      assert.equal(r.ready(), true)
      assert.equal(await r, 36)
    })

    if (backend.initializer) {
      it('runs the initializer with initargs in every worker', async () => {
        await using pool = newPool({ initializer: T.init, initargs: [{ tag: 'pool' }] })
        assert.deepEqual(await pool.apply(T.readInit), { tag: 'pool' })
      })
    }

    it('refuses bad options and arguments with the template message', () => {
      if (backend.name !== 'inline') {
        assert.throws(() => newPool({ processes: 0 }), (e: any) => e instanceof RangeError && e.message === 'Expected `processes` to be a positive integer, got 0')
      }
      assert.throws(() => newPool({ maxtasksperchild: 2 }), /Unknown option `maxtasksperchild`/)
      assert.throws(() => new Pool({ context: 'fork' as never }), (e: any) => e instanceof RangeError && /Expected `name` to be one of 'thread', 'process', 'inline'/.test(e.message))
      const pool = newPool()
      assert.throws(() => pool.apply(T.add, 1 as never), /Expected `args` to be an array of arguments/)
      assert.throws(() => pool.map(T.square, 5 as never), /Expected `iterable` to be an iterable/)
      assert.throws(() => pool.map(T.square, [1], { chunksize: 0 }), /Expected `chunksize` to be a positive integer, got 0/)
      assert.throws(() => pool.applyAsync(T.square, [1], { callback: 1 as never }), /Expected `callback` to be a function/)
      assert.throws(() => pool.imap(T.square, [1], { chunksize: -2 }), /Expected `chunksize` to be a positive integer or 'auto', got -2/)
      const local = (x: number) => x
      assert.throws(() => pool.map(local as any, [1]), TypeError)
      return pool.terminate()
    })

    it('is bound to its context', async () => {
      const ctx = getContext(context)
      await using pool = new ctx.Pool({ processes: 1 })
      assert.equal(pool.context, ctx)
      assert.equal(pool.context.name, backend.name)
      assert.equal(await pool.apply(T.square, [3]), 9)
    })

    if (backend.isolated) {
      it('a crashed worker fails only its own task, the pool goes on (Python\'s Pool hangs here)', async () => {
        await using pool = newPool()
        const others = pool.mapAsync(T.slowSquare, [1, 2, 3, 4])
        const error = await rejection(pool.apply(T.exitWorker, [9]))
        assert.ok(error instanceof WorkerCrashedError, String(error))
        assert.equal(error.exitCode, 9)
        assert.deepEqual(await others, [1, 4, 9, 16])
        assert.equal(await pool.apply(T.square, [5]), 25)
      })
    }
  })
}

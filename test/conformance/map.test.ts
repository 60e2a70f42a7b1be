// Executor.map: order, laziness, chunking, errors, timeouts, early exit, on every backend.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { CancelledError, TimeoutError } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'
import { collect, rejection } from '../helpers.js'

for (const backend of backends()) {
  describe(`map [${backend.name}]`, () => {
    const ex = backend.create()
    after(() => ex.shutdown())

    it('yields results in input order', async () => {
      const input = Array.from({ length: 200 }, (_, i) => i)
      assert.deepEqual(await collect(ex.map(T.square, input)), input.map((x) => x * x))
    })

    it('keeps input order when tasks finish out of order', async () => {
      // Later items finish first.
      const delays = [40, 30, 20, 10, 0]
      const out = await collect(ex.map(T.slowSquare, [1, 2, 3, 4, 5], delays, { chunksize: 1 }))
      assert.deepEqual(out, [1, 4, 9, 16, 25])
    })

    it('zips several iterables and stops at the shortest', async () => {
      assert.deepEqual(await collect(ex.map(T.pow, [2, 3, 4], [10, 2])), [1024, 9])
    })

    it('handles empty input', async () => {
      assert.deepEqual(await collect(ex.map(T.square, [])), [])
    })

    it('reads async iterables', async () => {
      async function* numbers() {
        for (let i = 0; i < 20; i++) yield i
      }
      assert.deepEqual(await collect(ex.map(T.square, numbers())), Array.from({ length: 20 }, (_, i) => i * i))
    })

    for (const chunksize of [1, 7, 'auto'] as const) {
      it(`gives the same results with chunksize ${chunksize}`, async () => {
        const input = Array.from({ length: 1000 }, (_, i) => i)
        const out = await collect(ex.map(T.add, input, input, { chunksize }))
        assert.deepEqual(out, input.map((x) => 2 * x))
      })
    }

    it('reads an infinite generator lazily, within a bounded window', async () => {
      let produced = 0
      function* naturals() {
        for (let i = 0; ; i++) {
          produced++
          yield i
        }
      }
      let consumed = 0
      for await (const y of ex.map(T.square, naturals(), { chunksize: 4, buffersize: 3 })) {
        assert.equal(y, consumed * consumed)
        consumed++
        assert.ok(produced <= consumed + 4 * 3 + 4, `read ${produced} items for ${consumed} results`)
        if (consumed === 100) break
      }
      assert.equal(consumed, 100)
    })

    it('yields the results before a failing item, then throws its error', async () => {
      const seen: number[] = []
      const error = await rejection(
        (async () => {
          for await (const y of ex.map(T.failOn, [1, 2, 3, 4, 5], [3, 3, 3, 3, 3], { chunksize: 5 })) seen.push(y)
        })(),
      )
      assert.deepEqual(seen, [10, 20])
      assert.ok(error instanceof RangeError)
      assert.equal(error.message, 'item 3 is bad')
      assert.match(String(error.stack), /failOn/)
      assert.match(String(error.stack), /map\.test\.ts/, 'the stack shows where map was called')
    })

    it('refuses a closure before reading anything', () => {
      const local = (x: number) => x
      assert.throws(() => ex.map(local as any, [1]), TypeError)
    })

    it('refuses a bad option with a clear error', () => {
      assert.throws(() => ex.map(T.square, [1], { chunksize: 0 }), /Expected `chunksize` to be a positive integer or 'auto', got 0/)
      assert.throws(() => ex.map(T.square, [1], { chunksize: 'big' as never }), TypeError)
      assert.throws(() => ex.map(T.square, [1], { chunks: 2 } as never), /Unknown option `chunks`/)
      assert.throws(() => ex.map(T.square, 5 as never), /iterable/)
    })

    it('throws TimeoutError when the next result is late', async () => {
      const error = await rejection(collect(ex.map(T.sleep, [10, 1500, 10], { timeout: 300, chunksize: 1 })))
      assert.ok(error instanceof TimeoutError, String(error))
    })

    it('stops with CancelledError when its signal aborts', async () => {
      const controller = new AbortController()
      const seen: number[] = []
      const error = await rejection(
        (async () => {
          for await (const y of ex.map(T.sleep, [1, 1, 1, 1500, 1500], { chunksize: 1, signal: controller.signal })) {
            seen.push(y)
            if (seen.length === 2) setTimeout(() => controller.abort(), 20)
          }
        })(),
      )
      assert.ok(error instanceof CancelledError, String(error))
      assert.ok(seen.length >= 2)
    })

    it('yields ready results while the input is waiting for more', async () => {
      // The source gives three items, then waits until the consumer has their
      // results (or, if results were held back behind the read, a long fallback).
      let release!: (by: string) => void
      const gate = new Promise<string>((resolve) => (release = resolve))
      const fallback = setTimeout(() => release('fallback'), 60_000)
      async function* slowSource() {
        yield 1
        yield 2
        yield 3
        yield await gate
      }
      const out: unknown[] = []
      try {
        for await (const y of ex.map(T.identity, slowSource(), { chunksize: 1, buffersize: 16 })) {
          out.push(y)
          if (out.length === 3) release('consumer')
        }
      } finally {
        clearTimeout(fallback)
      }
      assert.deepEqual(out, [1, 2, 3, 'consumer'])
    })

    it('stops reading when the consumer leaves while the input is waiting', async () => {
      let closed = false
      const never = new Promise<never>(() => {})
      const source: AsyncIterableIterator<number> = {
        [Symbol.asyncIterator]() {
          return this
        },
        i: 0,
        async next() {
          if ((this as any).i < 2) return { done: false, value: (this as any).i++ }
          return never
        },
        async return() {
          closed = true
          return { done: true, value: undefined }
        },
      } as AsyncIterableIterator<number>
      const out: number[] = []
      for await (const y of ex.map(T.square, source, { chunksize: 1 })) {
        out.push(y)
        if (out.length === 2) break
      }
      assert.deepEqual(out, [0, 1])
      assert.equal(closed, true)
    })

    it('stops with CancelledError or TimeoutError while the input is waiting', async () => {
      async function* stalled() {
        yield 1
        await new Promise(() => {}) // never gives a second item
      }
      const controller = new AbortController()
      const seen: number[] = []
      const aborted = await rejection(
        (async () => {
          for await (const y of ex.map(T.square, stalled(), { chunksize: 1, signal: controller.signal })) {
            seen.push(y)
            setTimeout(() => controller.abort(), 10)
          }
        })(),
      )
      assert.deepEqual(seen, [1])
      assert.ok(aborted instanceof CancelledError)
      const timedOut = await rejection(collect(ex.map(T.square, stalled(), { chunksize: 1, timeout: 3000 })))
      assert.ok(timedOut instanceof TimeoutError)
    })

    it('closes the input when the consumer leaves early', async () => {
      let closed = false
      function* items() {
        try {
          for (let i = 0; i < 1000; i++) yield i
        } finally {
          closed = true
        }
      }
      for await (const y of ex.map(T.square, items())) {
        if (y >= 25) break
      }
      assert.equal(closed, true)
      // The executor is still healthy.
      assert.equal(await ex.submit(T.square, 5), 25)
    })
  })
}

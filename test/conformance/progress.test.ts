// progress() from running tasks: order, throttling, late calls, values that cannot travel, map and Pool, on every backend.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Pool, type StartMethod } from '../../src/index.js'
import { PROGRESS_INTERVAL_MS } from '../../src/worker/progress_sink.js'
import * as P from '../fixtures/progress_tasks.js'
import { backends } from './backends.js'

function assertIncreasing(values: unknown[], what: string): void {
  for (let i = 1; i < values.length; i++) assert.ok((values[i] as number) > (values[i - 1] as number), `${what}: out of order: ${JSON.stringify(values)}`)
}

for (const backend of backends()) {
  describe(`progress [${backend.name}]`, () => {
    it('delivers every value of a slow task in order, all before the Future settles', async () => {
      await using ex = backend.create()
      const seen: unknown[] = []
      const f = ex.submitWith({ onProgress: (v) => seen.push(v) }, P.countUp, 5, PROGRESS_INTERVAL_MS + 30)
      let atSettle: unknown[] = []
      f.addDoneCallback(() => (atSettle = [...seen]))
      assert.equal(await f, 5)
      assert.deepEqual(seen, [1, 2, 3, 4, 5])
      assert.deepEqual(atSettle, [1, 2, 3, 4, 5], 'the last value arrives before the result')
    })

    it('keeps the values of tasks submitted together apart (a burst travels packed)', async () => {
      await using ex = backend.create()
      const seen = Array.from({ length: 6 }, () => [] as unknown[])
      const futures = seen.map((into, k) => ex.submitWith({ onProgress: (v) => into.push(v) }, P.countUp, k + 1, PROGRESS_INTERVAL_MS + 10))
      assert.deepEqual(await Promise.all(futures), [1, 2, 3, 4, 5, 6])
      seen.forEach((values, k) => assert.deepEqual(values, Array.from({ length: k + 1 }, (_, i) => i + 1), `task ${k}`))
    })

    it('throttles a tight loop to the latest value per interval, keeping order and the last value', async () => {
      await using ex = backend.create()
      const seen: unknown[] = []
      const n = 300_000
      const t0 = performance.now()
      assert.equal(await ex.submitWith({ onProgress: (v) => seen.push(v) }, P.tightLoop, n), n)
      const elapsed = performance.now() - t0
      assert.ok(seen.length >= 1, 'at least the last value')
      assert.ok(seen.length <= Math.ceil(elapsed / PROGRESS_INTERVAL_MS) + 2, `${seen.length} messages in ${elapsed.toFixed(0)} ms`)
      assert.equal(seen.at(-1), n)
      assertIncreasing(seen, 'tight loop')
    })

    it('sends nothing to a task without a listener, which runs as before', async () => {
      await using ex = backend.create()
      assert.equal(await ex.submit(P.echoProgress, 7), 7)
      assert.equal(await ex.submit(P.tightLoop, 1000), 1000)
    })

    it('drops a call made after its task ended: it never reaches the next task', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const first: unknown[] = []
      const second: unknown[] = []
      assert.equal(await ex.submitWith({ onProgress: (v) => first.push(v) }, P.leavesTimer, 50), 'returned')
      assert.equal(await ex.submitWith({ onProgress: (v) => second.push(v) }, P.reportsOnceThenWaits, 250), 'waited')
      assert.deepEqual(first, [])
      assert.deepEqual(second, ['mine'])
    })

    it('throws SerializationError in the task for a value that cannot travel', async () => {
      await using ex = backend.create()
      const r = await ex.submitWith({ onProgress: () => {} }, P.badValue)
      assert.equal(r.name, 'SerializationError')
      assert.equal(r.code, 'ERR_MP_SERIALIZATION')
      assert.match(r.message, /progress\(\).*cannot be sent.*callback/)
    })

    it('gives map the index of the item each value belongs to, in order per item', async () => {
      await using ex = backend.create()
      const heard = new Map<number, unknown[]>()
      const items = Array.from({ length: 12 }, (_, i) => i + 1)
      const out: unknown[] = []
      for await (const y of ex.map(P.itemSteps, items, { chunksize: 3, onProgress: (v, index) => heard.set(index, [...(heard.get(index) ?? []), v]) })) out.push(y)
      assert.deepEqual(out, items.map((i) => i * 10))
      assert.equal(heard.size, items.length)
      for (const [index, values] of heard) assert.deepEqual(values, [{ item: index + 1, step: 1 }, { item: index + 1, step: 2 }], `item ${index}`)
    })

    it('refuses an onProgress that is not a function', async () => {
      await using ex = backend.create()
      assert.throws(() => ex.submitWith({ onProgress: 5 as never }, P.echoProgress, 1), /onProgress/)
      assert.throws(() => ex.map(P.echoProgress, [1], { onProgress: 'x' as never }), /onProgress/)
    })

    it('keeps going when a listener throws, and says so with a warning', async () => {
      await using ex = backend.create()
      const warnings: string[] = []
      const onWarning = (w: Error): void => void warnings.push(w.message)
      process.on('warning', onWarning)
      try {
        assert.equal(
          await ex.submitWith(
            {
              onProgress: () => {
                throw new Error('listener broke')
              },
            },
            P.countUp,
            2,
            PROGRESS_INTERVAL_MS + 10,
          ),
          2,
        )
        await new Promise((resolve) => setImmediate(resolve))
      } finally {
        process.off('warning', onWarning)
      }
      assert.ok(warnings.some((w) => /onProgress listener.*listener broke/s.test(w)), warnings.join('\n'))
    })
  })
}

for (const method of ['thread', 'process', 'inline'] as StartMethod[]) {
  describe(`progress through Pool [${method}]`, () => {
    it('applyAsync, map, starmap and imap hear their tasks', async () => {
      await using pool = new Pool({ processes: 2, context: method })
      const applied: unknown[] = []
      assert.equal(await pool.applyAsync(P.countUp, [3, PROGRESS_INTERVAL_MS + 20], { onProgress: (v) => applied.push(v) }).get(), 3)
      assert.deepEqual(applied, [1, 2, 3])

      const items = [1, 2, 3, 4, 5]
      const mapped = new Map<number, unknown[]>()
      const record = (into: Map<number, unknown[]>) => (v: unknown, index: number) => into.set(index, [...(into.get(index) ?? []), v])
      assert.deepEqual(await pool.map(P.itemSteps, items, { chunksize: 2, onProgress: record(mapped) }), [10, 20, 30, 40, 50])
      for (const i of items) assert.deepEqual(mapped.get(i - 1), [{ item: i, step: 1 }, { item: i, step: 2 }])

      const starred = new Map<number, unknown[]>()
      assert.deepEqual(await pool.starmap(P.echoProgress, [[4], [5], [6]], { onProgress: record(starred) }), [4, 5, 6])
      assert.deepEqual([...starred.entries()].sort((a, b) => a[0] - b[0]), [[0, [4]], [1, [5]], [2, [6]]])

      const streamed = new Map<number, unknown[]>()
      const out: unknown[] = []
      for await (const y of pool.imap(P.itemSteps, items, { onProgress: record(streamed) })) out.push(y)
      assert.deepEqual(out, [10, 20, 30, 40, 50])
      for (const i of items) assert.deepEqual(streamed.get(i - 1), [{ item: i, step: 1 }, { item: i, step: 2 }])
      assert.throws(() => pool.map(P.echoProgress, [1], { onProgress: 1 as never }), /onProgress/)
    })
  })
}

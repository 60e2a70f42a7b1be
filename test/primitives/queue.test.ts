// Queue, JoinableQueue, SimpleQueue: Python's semantics, backpressure,
// exactly-once delivery under many producers and consumers, and joining a
// producer before draining its queue (cpython#73983) on every context.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Empty, Full, JoinableQueue, Queue, QueueClosedError, SimpleQueue, TooManyReleasesError } from '../../src/index.js'
import { consume, joinableConsumer, produce, putMany } from '../fixtures/primitives.js'
import { contexts } from './contexts.js'

describe('Queue (one thread)', () => {
  it('FIFO, qsize/empty/full, Empty and Full without blocking or on timeout', async () => {
    const q = new Queue<unknown>({ maxsize: 2 })
    assert.equal(q.empty(), true)
    await q.put({ a: 1 })
    q.putNowait([1, 2n, new Map([['k', 'v']])])
    assert.equal(q.full(), true)
    assert.equal(q.qsize(), 2)
    assert.throws(() => q.putNowait(3), Full)
    await assert.rejects(q.put(3, { timeout: 10 }), Full)
    await assert.rejects(q.put(3, { blocking: false }), Full)
    assert.deepEqual(await q.get(), { a: 1 })
    assert.deepEqual(q.getNowait(), [1, 2n, new Map([['k', 'v']])])
    assert.throws(() => q.getNowait(), Empty)
    await assert.rejects(q.get({ timeout: 10 }), Empty)
  })

  it('put waits while full (backpressure) and goes on when an item is taken', async () => {
    const q = new Queue<number>({ maxsize: 1 })
    await q.put(1)
    let done = false
    const putting = q.put(2).then(() => (done = true))
    await new Promise((r) => setTimeout(r, 10))
    assert.equal(done, false)
    assert.equal(await q.get(), 1)
    await putting
    assert.equal(await q.get(), 2)
  })

  it('close(): put is a QueueClosedError, get drains what is left then fails instead of waiting', async () => {
    const q = new Queue<number>()
    await q.put(1)
    q.close()
    await assert.rejects(q.put(2), QueueClosedError)
    assert.equal(await q.get(), 1)
    await assert.rejects(q.get(), QueueClosedError)
  })

  it('wraps around its ring many times without losing a byte', async () => {
    const q = new Queue<string>({ capacity: 64 })
    const got: string[] = []
    for (let i = 0; i < 200; i++) {
      await q.put(`item ${i}`)
      if (i % 3 === 2) while (!q.empty()) got.push(await q.get())
    }
    while (!q.empty()) got.push(await q.get())
    assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => `item ${i}`))
  })

  it('refuses an item larger than its capacity, and bad options', async () => {
    await assert.rejects(new Queue({ capacity: 32 }).put('x'.repeat(100)), RangeError)
    assert.throws(() => new Queue({ maxsize: -1 }), RangeError)
    assert.throws(() => new Queue({ size: 1 } as never), RangeError)
  })

  it('JoinableQueue: join waits for taskDone; one too many is TooManyReleasesError', async () => {
    const q = new JoinableQueue<number>()
    await q.put(1)
    await q.put(2)
    assert.equal(await q.join({ timeout: 10 }), false)
    await q.get()
    q.taskDone()
    await q.get()
    q.taskDone()
    assert.equal(await q.join(), true)
    assert.throws(() => q.taskDone(), TooManyReleasesError)
  })

  it('SimpleQueue: put, get, empty', async () => {
    const q = new SimpleQueue<string>()
    await q.put('a')
    assert.equal(q.empty(), false)
    assert.equal(await q.get(), 'a')
    assert.equal(q.empty(), true)
  })
})

for (const ctx of contexts()) {
  describe(`Queue across workers [${ctx.name}]`, () => {
    // Threads move 100k items; child processes, each item a round trip to the
    // parent, move 20k so that the test stays short on a loaded machine.
    const total = ctx.name === 'thread' ? 100_000 : 20_000

    it(`${total} items from 4 producers to 4 consumers through a bounded queue arrive exactly once`, async () => {
      const producers = 4
      const consumers = 4
      const per = total / producers
      const q = new Queue<number>({ maxsize: 64 })
      const out = new Queue<[number, number]>()
      const ps = Array.from({ length: producers }, (_, i) => new ctx.Process({ target: produce, args: [q, i * per, per] }))
      const cs = Array.from({ length: consumers }, () => new ctx.Process({ target: consume, args: [q, out] }))
      for (const p of [...ps, ...cs]) p.start()
      for (const p of ps) await p.join()
      for (let i = 0; i < consumers; i++) await q.put(-1)
      for (const c of cs) await c.join()
      let count = 0
      let sum = 0
      for (let i = 0; i < consumers; i++) {
        const [n, s] = await out.get()
        count += n
        sum += s
      }
      // Exactly once: the count and the sum of 0..total-1 both match (a lost
      // item and a duplicated one would have to cancel out in both).
      assert.equal(count, total)
      assert.equal(sum, ((total - 1) * total) / 2)
      assert.equal(q.qsize(), 0)
    })

    it('a producer can be joined before its queue is drained (cpython#73983)', async () => {
      const q = new Queue<string>()
      const p = new ctx.Process({ target: putMany, args: [q, 200, 10_000] })
      p.start()
      await p.join()
      assert.equal(p.exitCode, 0)
      assert.equal(q.qsize(), 200)
      for (let i = 0; i < 200; i++) assert.equal(((await q.get()) as string).split(':')[0], String(i))
    })

    it('JoinableQueue: join returns once workers marked every item done', async () => {
      const q = new JoinableQueue<number>()
      const out = new Queue<number>()
      const workers = [0, 1].map(() => new ctx.Process({ target: joinableConsumer, args: [q, out] }))
      for (const w of workers) w.start()
      for (let i = 1; i <= 20; i++) await q.put(i)
      await q.put(-1)
      await q.put(-1)
      assert.equal(await q.join(), true)
      for (const w of workers) await w.join()
      let sum = 0
      for (let i = 0; i < 20; i++) sum += await out.get()
      assert.equal(sum, 2 * 210)
    })
  })
}

describe('a child process that goes away while the parent waits for it', () => {
  it('does not keep the parent alive, and takes no item with it', async () => {
    const { runScript } = await import('../helpers.js')
    const idle = await runScript('test/fixtures/programs/terminated_consumer.ts', [], { timeoutMs: 60_000 })
    assert.equal(idle.signal, null, `the program had to be killed; stderr: ${idle.stderr}`)
    assert.equal(idle.code, 0, idle.stderr)
    assert.match(idle.stdout, /terminated -15; items: 0/)
    const put = await runScript('test/fixtures/programs/terminated_consumer.ts', ['--put'], { timeoutMs: 60_000 })
    assert.equal(put.code, 0, put.stderr)
    assert.match(put.stdout, /terminated -15; items: 1/, 'the dead child\'s get took the item')
  })
})

// The map engine over chunk Futures settled by hand: order, windows,
// timeout and abort (also while the consumer is not waiting), clean-up.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Future } from '../../src/futures/future.js'
import { CountingFuture } from './counting_future.js'
import { mapInChunks, zipArgs, type ChunkResult, type ChunkSubmitter } from '../../src/futures/map_engine.js'
import type { ResolvedTask } from '../../src/task_ref.js'
import { CancelledError, TimeoutError } from '../../src/errors.js'

/** An executor whose chunks the test settles: each chunk's Future and items, in submission order. */
function handExecutor(): ChunkSubmitter & { chunks: { items: unknown[][]; future: CountingFuture<ChunkResult> }[] } {
  const chunks: { items: unknown[][]; future: CountingFuture<ChunkResult> }[] = []
  return {
    maxWorkers: 1,
    chunks,
    submitChunk(_task: ResolvedTask, items: unknown[][]): Future<ChunkResult> {
      const future = new CountingFuture<ChunkResult>()
      chunks.push({ items, future })
      return future
    },
  }
}

const task = {} as ResolvedTask
const squares = (items: unknown[][]): ChunkResult => ({ values: items.map(([x]) => (x as number) ** 2), errors: undefined, ms: 0 })
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('map engine', () => {
  it('yields in input order although chunks finish out of order', async () => {
    const ex = handExecutor()
    const it = mapInChunks(ex, task, zipArgs([[1, 2, 3]]), { chunksize: 1 }, true)
    const first = it.next()
    await tick()
    assert.equal(ex.chunks.length, 3)
    ex.chunks[2]!.future.setResult(squares(ex.chunks[2]!.items))
    ex.chunks[1]!.future.setResult(squares(ex.chunks[1]!.items))
    ex.chunks[0]!.future.setResult(squares(ex.chunks[0]!.items))
    assert.deepEqual(await first, { done: false, value: 1 })
    const rest: unknown[] = []
    for await (const v of it) rest.push(v)
    assert.deepEqual(rest, [4, 9])
    for (const c of ex.chunks) assert.equal(c.future.live, 0)
  })

  it("auto chunks grow from the measured item time to the scheduler's target and cap", async () => {
    for (const [plan, expected] of [
      [undefined, 1000], // local sizing: 1 ms of 1 µs items
      [{ targetMs: 10, maxItems: 50_000 }, 10_000],
      [{ targetMs: 10, maxItems: 500 }, 500],
    ] as const) {
      const ex = { ...handExecutor(), autoChunk: () => plan }
      const it = mapInChunks(ex, task, zipArgs([Array.from({ length: 100_000 }, (_, i) => i)]), {}, true)
      const first = it.next()
      await tick()
      // Nothing known yet: one one-item chunk per worker (maxWorkers is 1 here), not a window of them.
      assert.equal(ex.chunks.length, 1)
      assert.equal(ex.chunks[0]!.items.length, 1, 'the first chunk holds one item')
      // It finishes at 1 µs per item: the next chunk has the learned size, and while sizes
      // still grow the window stays at one chunk per worker.
      ex.chunks[0]!.future.setResult({ ...squares(ex.chunks[0]!.items), ms: 0.001 })
      await first
      await tick()
      assert.equal(ex.chunks.length, 2, 'one chunk per worker while the size grows')
      assert.equal(ex.chunks[1]!.items.length, expected, JSON.stringify(plan))
      // That one confirms the size: the window fills.
      ex.chunks[1]!.future.setResult({ ...squares(ex.chunks[1]!.items), ms: expected * 0.001 })
      for (let i = 0; i < expected; i++) await it.next()
      await tick()
      assert.ok(ex.chunks.length > 3, `the window fills once the size holds: ${ex.chunks.length} chunks`)
      assert.ok(Math.abs(ex.chunks.at(-1)!.items.length - expected) <= 1, `${ex.chunks.at(-1)!.items.length} items, about ${expected}`)
      await it.return!(undefined)
    }
  })

  it('local auto chunks grow with the work done, a sixteenth of it, up to 8 ms of work', async () => {
    const ex = handExecutor()
    const it = mapInChunks(ex, task, zipArgs([Array.from({ length: 100_000 }, (_, i) => i)]), {}, true)
    const consumer = (async () => {
      for await (const _ of it) {
        // reads every value, as a consumer does
      }
    })()
    // Every item takes 0.1 ms: chunks start at 1 ms (10 items) and reach 8 ms (80) once 128 ms are done.
    const sizes: number[] = []
    let workedMs = 0
    for (let i = 0; i < 120; i++) {
      while (ex.chunks.length <= i) await tick()
      const chunk = ex.chunks[i]!
      sizes.push(chunk.items.length)
      workedMs += chunk.items.length * 0.1
      chunk.future.setResult({ ...squares(chunk.items), ms: chunk.items.length * 0.1 })
    }
    assert.equal(sizes[0], 1)
    assert.ok(sizes[1]! >= 9 && sizes[1]! <= 10, `the second chunk: about 1 ms, ${sizes[1]} items`)
    assert.ok(Math.max(...sizes) <= 80, `at most 8 ms a chunk: ${Math.max(...sizes)} items`)
    assert.ok(sizes.at(-1)! >= 79, `8 ms chunks after ${workedMs.toFixed(0)} ms of work: ${sizes.at(-1)} items`)
    // No chunk is larger than a sixteenth of the work known when it was cut (plus the first one-item chunks).
    let known = 0
    for (const [i, size] of sizes.entries()) {
      assert.ok(size * 0.1 <= Math.max(1, known / 16) + 0.1, `chunk ${i}: ${size} items after ${known.toFixed(1)} ms`)
      known += size * 0.1
    }
    await it.return!(undefined)
    await consumer.catch(() => {})
  })

  it('a map over one async iterable sends its items flat, as over a sync one', async () => {
    for (const source of [[1, 2, 3], (async function* () { yield* [1, 2, 3] })()]) {
      const flat: unknown[][] = []
      const ex = {
        ...handExecutor(),
        submitItems(_task: ResolvedTask, items: unknown[]): Future<ChunkResult> {
          flat.push(items)
          const future = new CountingFuture<ChunkResult>()
          future.setResult({ values: items.map((x) => (x as number) ** 2), errors: undefined, ms: 0 })
          return future
        },
      }
      const out: unknown[] = []
      for await (const v of mapInChunks(ex, task, zipArgs([source]), { chunksize: 2 }, true)) out.push(v)
      assert.deepEqual(out, [1, 4, 9])
      assert.deepEqual(flat, [[1, 2], [3]], 'bare items, no argument tuple per item')
      assert.equal(ex.chunks.length, 0)
    }
  })

  it('leaving a map early warns of nothing (the chunks cancelled are not learned from)', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error): void => void warnings.push(w)
    process.on('warning', onWarning)
    try {
      const ex = handExecutor()
      const it = mapInChunks(ex, task, zipArgs([Array.from({ length: 100 }, (_, i) => i)]), {}, true)
      const first = it.next()
      await tick()
      ex.chunks[0]!.future.setResult({ ...squares(ex.chunks[0]!.items), ms: 0.001 })
      await first
      await tick()
      assert.ok(ex.chunks.length > 1)
      await it.return!(undefined)
      assert.ok(ex.chunks.slice(1).every((c) => c.future.cancelled()))
      await tick()
      assert.deepEqual(warnings.map((w) => w.message), [])
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('unordered: yields the chunk done first', async () => {
    const ex = handExecutor()
    const it = mapInChunks(ex, task, zipArgs([[1, 2, 3]]), { chunksize: 1 }, false)
    const first = it.next()
    await tick()
    ex.chunks[1]!.future.setResult(squares(ex.chunks[1]!.items))
    assert.deepEqual(await first, { done: false, value: 4 })
    ex.chunks[0]!.future.setResult(squares(ex.chunks[0]!.items))
    ex.chunks[2]!.future.setResult(squares(ex.chunks[2]!.items))
    const rest: unknown[] = []
    for await (const v of it) rest.push(v)
    assert.deepEqual(rest.sort(), [1, 9])
    for (const c of ex.chunks) assert.equal(c.future.live, 0)
  })

  for (const ordered of [true, false]) {
    const how = ordered ? 'ordered' : 'unordered'

    it(`${how}: the timeout throws TimeoutError and cancels what is queued`, async () => {
      const ex = handExecutor()
      const it = mapInChunks(ex, task, zipArgs([[1, 2]]), { chunksize: 1, timeout: 20 }, ordered)
      await assert.rejects(it.next(), (e: unknown) => e instanceof TimeoutError && e.message === 'map() with timeout 20 ms timed out')
      for (const c of ex.chunks) {
        assert.equal(c.future.cancelled(), true)
        assert.equal(c.future.live, 0)
      }
    })

    it(`${how}: aborting while waiting throws CancelledError with the reason`, async () => {
      const ex = handExecutor()
      const controller = new AbortController()
      const it = mapInChunks(ex, task, zipArgs([[1, 2]]), { chunksize: 1, signal: controller.signal }, ordered)
      const next = it.next()
      await tick()
      const reason = new Error('enough')
      controller.abort(reason)
      await assert.rejects(next, (e: unknown) => e instanceof CancelledError && e.message === 'map() was aborted' && e.cause === reason)
      for (const c of ex.chunks) assert.equal(c.future.live, 0)
    })

    it(`${how}: aborting while the consumer is busy stops the next wait`, async () => {
      const ex = handExecutor()
      const controller = new AbortController()
      const it = mapInChunks(ex, task, zipArgs([[1, 2, 3]]), { chunksize: 1, signal: controller.signal }, ordered)
      const first = it.next()
      await tick()
      ex.chunks[0]!.future.setResult(squares(ex.chunks[0]!.items))
      assert.deepEqual(await first, { done: false, value: 1 })
      // The consumer is in its loop body, not waiting, when the signal aborts.
      controller.abort()
      await assert.rejects(it.next(), CancelledError)
      for (const c of ex.chunks.slice(1)) assert.equal(c.future.cancelled(), true)
    })
  }

  it('a task error is thrown at its position, after the values before it', async () => {
    const ex = handExecutor()
    const it = mapInChunks(ex, task, zipArgs([[1, 2, 3]]), { chunksize: 3 }, true)
    const first = it.next()
    await tick()
    ex.chunks[0]!.future.setResult({ values: [1, undefined, 9], errors: new Map([[1, new Error('two')]]), ms: 0 })
    assert.deepEqual(await first, { done: false, value: 1 })
    await assert.rejects(it.next(), /two/)
  })

  it('an input that waits for ever still obeys the timeout', async () => {
    const ex = handExecutor()
    async function* stalled(): AsyncGenerator<number> {
      await new Promise(() => {})
    }
    const it = mapInChunks(ex, task, zipArgs([stalled()]), { timeout: 20 }, true)
    await assert.rejects(it.next(), TimeoutError)
    assert.equal(ex.chunks.length, 0)
  })
})

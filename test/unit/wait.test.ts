// wait() and asCompleted() on Futures settled by hand.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Future } from '../../src/futures/future.js'
import { CountingFuture } from './counting_future.js'
import { ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, asCompleted, wait, type Completed } from '../../src/futures/wait.js'
import { TimeoutError } from '../../src/errors.js'

async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Tracks whether a promise has settled yet, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  return { settled: () => settled, promise }
}

function resolved<T>(value: T): Future<T> {
  const f = new Future<T>()
  f.setResult(value)
  return f
}

function failed(error: unknown = new Error('failed')): Future<never> {
  const f = new Future<never>()
  f.setException(error)
  return f
}

function cancelled(): Future<never> {
  const f = new Future<never>()
  f.cancel()
  return f
}

async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

/** Collects asCompleted() results by identity into labels. */
async function order<F extends Future<any>>(iterable: AsyncIterable<Completed<F>>, labels: Map<F, string>): Promise<string[]> {
  const out: string[] = []
  for await (const f of iterable) out.push(labels.get(f as F) ?? '?')
  return out
}

describe('wait()', () => {
  it('the option constants have Python names', () => {
    assert.equal(FIRST_COMPLETED, 'FIRST_COMPLETED')
    assert.equal(FIRST_EXCEPTION, 'FIRST_EXCEPTION')
    assert.equal(ALL_COMPLETED, 'ALL_COMPLETED')
  })

  it('an empty list resolves at once with two empty sets', async () => {
    const { done, notDone } = await wait([])
    assert.equal(done.size, 0)
    assert.equal(notDone.size, 0)
  })

  it('ALL_COMPLETED (the default) waits for every Future', async () => {
    const a = new Future<number>()
    const b = new Future<number>()
    const c = new Future<number>()
    const waiting = track(wait([a, b, c]))
    a.setResult(1)
    b.setException(new Error('b failed'))
    await turns()
    assert.equal(waiting.settled(), false, 'a failure does not end ALL_COMPLETED')
    c.cancel()
    const { done, notDone } = await waiting.promise
    assert.deepEqual([...done], [a, b, c])
    assert.equal(notDone.size, 0)
  })

  it('ALL_COMPLETED given explicitly', async () => {
    const a = new Future()
    const waiting = wait([a], { returnWhen: ALL_COMPLETED })
    a.setResult(0)
    const { done } = await waiting
    assert.ok(done.has(a))
  })

  it('FIRST_COMPLETED returns when any Future finishes', async () => {
    const a = new Future<number>()
    const b = new Future<number>()
    const waiting = track(wait([a, b], { returnWhen: FIRST_COMPLETED }))
    await turns()
    assert.equal(waiting.settled(), false)
    b.setResult(2)
    const { done, notDone } = await waiting.promise
    assert.deepEqual([...done], [b])
    assert.deepEqual([...notDone], [a])
  })

  it('FIRST_COMPLETED counts a cancellation and a failure as completion', async () => {
    const a = new Future()
    const b = new Future()
    const w1 = wait([a, b], { returnWhen: FIRST_COMPLETED })
    a.cancel()
    assert.deepEqual([...(await w1).done], [a])

    const c = new Future()
    const w2 = wait([b, c], { returnWhen: FIRST_COMPLETED })
    c.setException(new Error('x'))
    const r2 = await w2
    assert.deepEqual([...r2.done], [c])
    assert.deepEqual([...r2.notDone], [b])
  })

  it('FIRST_COMPLETED returns at once when a Future is already done', async () => {
    const a = resolved(1)
    const b = new Future()
    const { done, notDone } = await wait([b, a], { returnWhen: FIRST_COMPLETED })
    assert.deepEqual([...done], [a])
    assert.deepEqual([...notDone], [b])
  })

  it('FIRST_COMPLETED reports every Future done at the moment it returns', async () => {
    const a = new Future()
    const b = new Future()
    const c = new Future()
    const waiting = wait([a, b, c], { returnWhen: FIRST_COMPLETED })
    a.setResult(1)
    b.setResult(2) // before wait() resumes: also reported as done
    const { done, notDone } = await waiting
    assert.deepEqual(new Set(done), new Set([a, b]))
    assert.deepEqual([...notDone], [c])
  })

  it('FIRST_EXCEPTION returns at the first failure', async () => {
    const a = new Future()
    const b = new Future()
    const c = new Future()
    const waiting = track(wait([a, b, c], { returnWhen: FIRST_EXCEPTION }))
    a.setResult(1)
    await turns()
    assert.equal(waiting.settled(), false, 'a success does not end FIRST_EXCEPTION')
    b.cancel()
    await turns()
    assert.equal(waiting.settled(), false, 'a cancellation is not an exception')
    c.setException(new Error('c'))
    const { done, notDone } = await waiting.promise
    assert.deepEqual(new Set(done), new Set([a, b, c]))
    assert.equal(notDone.size, 0)
  })

  it('FIRST_EXCEPTION returns with the failed Future while others are still pending', async () => {
    const a = new Future()
    const b = new Future()
    const waiting = wait([a, b], { returnWhen: FIRST_EXCEPTION })
    b.setException(new Error('b'))
    const { done, notDone } = await waiting
    assert.deepEqual([...done], [b])
    assert.deepEqual([...notDone], [a])
  })

  it('FIRST_EXCEPTION returns at once when a Future already failed', async () => {
    const bad = failed()
    const pending = new Future()
    const { done, notDone } = await wait([pending, bad], { returnWhen: FIRST_EXCEPTION })
    assert.deepEqual([...done], [bad])
    assert.deepEqual([...notDone], [pending])
  })

  it('FIRST_EXCEPTION without any failure waits for all, like ALL_COMPLETED', async () => {
    const a = new Future()
    const b = new Future()
    const waiting = track(wait([a, b], { returnWhen: FIRST_EXCEPTION }))
    a.setResult(1)
    await turns()
    assert.equal(waiting.settled(), false)
    b.setResult(2)
    const { done, notDone } = await waiting.promise
    assert.equal(done.size, 2)
    assert.equal(notDone.size, 0)
  })

  it('a failed Future does not make wait() reject', async () => {
    const { done } = await wait([failed(new Error('x')), cancelled()])
    assert.equal(done.size, 2)
  })

  it('timeout: resolves (never rejects) with what is done so far', async () => {
    const a = resolved(1)
    const b = new Future()
    const { done, notDone } = await wait([a, b], { timeout: 20 })
    assert.deepEqual([...done], [a])
    assert.deepEqual([...notDone], [b])
    assert.equal(b.state, 'PENDING')
  })

  it('timeout: 0 polls: returns at once without waiting', async () => {
    const a = new Future()
    const b = resolved(1)
    const waiting = track(wait([a, b], { timeout: 0 }))
    await Promise.resolve()
    await Promise.resolve()
    assert.equal(waiting.settled(), true, 'settled within microtasks, no timer')
    const { done, notDone } = await waiting.promise
    assert.deepEqual([...done], [b])
    assert.deepEqual([...notDone], [a])
  })

  it('timeout: returns early when the condition is met before it runs out', async () => {
    const a = new Future()
    const waiting = wait([a], { timeout: 10_000 })
    a.setResult(1)
    const { done } = await waiting
    assert.deepEqual([...done], [a])
  })

  it('timeout: Infinity means no limit', async () => {
    const a = new Future()
    const waiting = wait([a], { timeout: Infinity })
    setImmediate(() => a.setResult(1))
    assert.equal((await waiting).done.size, 1)
  })

  it('removes its callbacks after returning, by condition and by timeout', async () => {
    const a = new CountingFuture()
    const b = new CountingFuture()
    const first = wait([a, b], { returnWhen: FIRST_COMPLETED })
    assert.equal(a.live + b.live, 2)
    a.setResult(1)
    await first
    assert.equal(b.live, 0, 'the callback on the Future still pending was removed')

    const c = new CountingFuture()
    await wait([b, c], { timeout: 5 })
    assert.equal(b.live, 0)
    assert.equal(c.live, 0)
    // Completing them afterwards is harmless.
    b.setResult(2)
    c.setResult(3)
  })

  it('duplicates are counted once', async () => {
    const a = new Future()
    const b = new Future()
    const waiting = wait([a, a, b, a])
    a.setResult(1)
    b.setResult(2)
    const { done, notDone } = await waiting
    assert.deepEqual([...done], [a, b])
    assert.equal(notDone.size, 0)
  })

  it('accepts any iterable: a Set, a generator', async () => {
    const a = resolved(1)
    const b = resolved(2)
    assert.equal((await wait(new Set([a, b]))).done.size, 2)
    function* gen(): Generator<Future<number>> {
      yield a
      yield b
    }
    assert.equal((await wait(gen())).done.size, 2)
  })

  it('accepts Future subclasses and keeps their type', async () => {
    const a = new CountingFuture<number>()
    a.setResult(1)
    const { done } = await wait([a])
    const [only] = [...done]
    assert.ok(only instanceof CountingFuture)
  })

  it('refuses items that are not Futures with a TypeError naming the index', async () => {
    const a = resolved(1)
    const error = await rejection(wait([a, Promise.resolve(2) as unknown as Future]))
    assert.ok(error instanceof TypeError)
    assert.equal((error as TypeError & { code: string }).code, 'ERR_MP_INVALID_ARG_TYPE')
    assert.equal(error.message, 'Expected `futures[1]` passed to wait() to be a Future, got [object Promise]')
    const primitive = await rejection(wait([42 as unknown as Future]))
    assert.ok(primitive instanceof TypeError)
    assert.equal(primitive.message, 'Expected `futures[0]` passed to wait() to be a Future, got 42')
    const thenable = await rejection(wait([{ then() {} } as unknown as Future]))
    assert.ok(thenable instanceof TypeError)
  })

  it('refuses a non-iterable with a TypeError', async () => {
    for (const bad of [undefined, null, 42, 'abc', {}]) {
      const error = await rejection(wait(bad as unknown as Future[]))
      assert.ok(error instanceof TypeError, `for ${String(bad)}`)
      assert.match(error.message, /^Expected `futures` to be an iterable of Futures, got /)
    }
  })

  it('refuses unknown options with a RangeError that lists the known ones', async () => {
    const error = await rejection(wait([], { timout: 5 } as never))
    assert.ok(error instanceof RangeError)
    assert.equal((error as RangeError & { code: string }).code, 'ERR_MP_UNKNOWN_OPTION')
    assert.equal(error.message, 'Unknown option `timout` for wait(); expected one of `timeout`, `returnWhen`')
  })

  it('refuses a bad returnWhen and a bad timeout', async () => {
    const bad = await rejection(wait([], { returnWhen: 'FIRST' as never }))
    assert.ok(bad instanceof RangeError)
    assert.equal(bad.message, "Expected `returnWhen` to be one of 'FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED', got \"FIRST\"")
    const notString = await rejection(wait([], { returnWhen: 1 as never }))
    assert.ok(notString instanceof TypeError)
    const negative = await rejection(wait([], { timeout: -1 }))
    assert.ok(negative instanceof RangeError)
    const options = await rejection(wait([], 'fast' as never))
    assert.ok(options instanceof TypeError)
    assert.equal(options.message, 'Expected `options` to be an options object, got "fast"')
  })

  it('null options are the defaults', async () => {
    const { done } = await wait([resolved(1)], null as never)
    assert.equal(done.size, 1)
  })
})

describe('asCompleted()', () => {
  it('yields Futures in completion order', async () => {
    const a = new Future<string>()
    const b = new Future<string>()
    const c = new Future<string>()
    const labels = new Map<Future<string>, string>([
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
    ])
    const result = order(asCompleted([a, b, c]), labels)
    c.setResult('c')
    await turns()
    a.setException(new Error('a'))
    await turns()
    b.cancel()
    assert.deepEqual(await result, ['c', 'a', 'b'])
  })

  it('yields Futures that complete in the same turn in the order they completed', async () => {
    const fs = [new Future<number>(), new Future<number>(), new Future<number>()]
    const labels = new Map(fs.map((f, i) => [f, String(i)]))
    const result = order(asCompleted(fs), labels)
    fs[2]!.setResult(2)
    fs[0]!.setResult(0)
    fs[1]!.setResult(1)
    assert.deepEqual(await result, ['2', '0', '1'])
  })

  it('yields the Futures already done first, in input order', async () => {
    const pending = new Future()
    const done1 = resolved(1)
    const done2 = failed()
    const labels = new Map<Future<unknown>, string>([
      [pending, 'pending'],
      [done1, 'done1'],
      [done2, 'done2'],
    ])
    const it = asCompleted<Future<unknown>>([pending, done1, done2])
    // Complete the pending one before iterating: it still comes after the ones done at the call.
    pending.setResult(0)
    assert.deepEqual(await order(it, labels), ['done1', 'done2', 'pending'])
  })

  it('yields the Future itself, not its value (a Future is awaitable)', async () => {
    const f = resolved(5)
    const it = asCompleted([f])
    const first = await it.next()
    assert.equal(first.done, false)
    assert.equal(first.value, f)
    assert.deepEqual(await it.next(), { done: true, value: undefined })
    assert.deepEqual(await it.next(), { done: true, value: undefined })
  })

  it('yields a duplicate once', async () => {
    const a = new Future()
    const b = resolved(2)
    const labels = new Map<Future<unknown>, string>([
      [a, 'a'],
      [b, 'b'],
    ])
    const result = order(asCompleted<Future<unknown>>([a, b, a, b, a]), labels)
    a.setResult(1)
    assert.deepEqual(await result, ['b', 'a'])
  })

  it('an empty list ends at once', async () => {
    const it = asCompleted([])
    assert.deepEqual(await it.next(), { done: true, value: undefined })
  })

  it('is its own async iterator', () => {
    const it = asCompleted([])
    assert.equal(it[Symbol.asyncIterator](), it)
  })

  it('times out with TimeoutError naming the count of unfinished Futures', async () => {
    const a = resolved(1)
    const b = new CountingFuture()
    const c = new CountingFuture()
    const seen: Future<unknown>[] = []
    const error = await rejection(
      (async () => {
        // The cast: TypeScript types a for-await variable as Awaited<F>, and a Future is
        // PromiseLike, so it claims `f` is the value; at run time it is the Future.
        for await (const f of asCompleted<Future<unknown>>([a, b, c], { timeout: 20 })) seen.push(f as unknown as Future<unknown>)
      })(),
    )
    assert.deepEqual(seen, [a], 'what was done is yielded before the timeout')
    assert.ok(error instanceof TimeoutError)
    assert.equal(error.code, 'ERR_MP_TIMEOUT')
    assert.equal(error.message, 'asCompleted() timed out after 20 ms with 2 of 3 Futures unfinished')
    assert.equal(b.live, 0, 'callbacks removed after the timeout')
    assert.equal(c.live, 0)
    b.setResult(1)
    c.setResult(1)
  })

  it('a timeout counts from the call: Futures done in time are yielded, then it throws', async () => {
    const a = new Future<number>()
    const b = new Future<number>()
    const it = asCompleted([a, b], { timeout: 50 })
    a.setResult(1)
    const first = await it.next()
    assert.equal(first.value, a)
    const error = await rejection(it.next())
    assert.ok(error instanceof TimeoutError)
    assert.match(error.message, /with 1 of 2 Futures unfinished/)
    // After the timeout the iterator is finished.
    assert.deepEqual(await it.next(), { done: true, value: undefined })
  })

  it('timeout: 0 yields what is already done, then throws if anything is left', async () => {
    const a = resolved(1)
    const b = new Future()
    const it = asCompleted<Future<unknown>>([a, b], { timeout: 0 })
    assert.equal((await it.next()).value, a)
    const error = await rejection(it.next())
    assert.ok(error instanceof TimeoutError)
    assert.match(error.message, /after 0 ms with 1 of 2/)

    const all = asCompleted([resolved(1), resolved(2)], { timeout: 0 })
    assert.equal((await all.next()).done, false)
    assert.equal((await all.next()).done, false)
    assert.equal((await all.next()).done, true)
  })

  it('no TimeoutError when everything completes within the timeout', async () => {
    const a = new Future()
    const it = asCompleted([a], { timeout: 10_000 })
    setImmediate(() => a.setResult(1))
    const seen: unknown[] = []
    for await (const f of it) seen.push(f)
    assert.deepEqual(seen, [a])
  })

  it('breaking out of the loop removes its callbacks', async () => {
    const a = resolved(1)
    const b = new CountingFuture<number>()
    const c = new CountingFuture<number>()
    for await (const f of asCompleted<Future<number>>([a, b, c])) {
      assert.equal(f, a)
      assert.equal(b.live + c.live, 2)
      break
    }
    assert.equal(b.live, 0)
    assert.equal(c.live, 0)
    // Completing them later is harmless: nothing throws, no warning, nothing yielded.
    let warned = false
    const onWarning = (): void => {
      warned = true
    }
    process.on('warning', onWarning)
    try {
      b.setResult(2)
      c.setException(new Error('late'))
      await turns()
    } finally {
      process.off('warning', onWarning)
    }
    assert.equal(warned, false)
  })

  it('return() ends the iteration: next() is then done even when Futures complete', async () => {
    const a = new Future()
    const it = asCompleted([a])
    assert.deepEqual(await it.return!(), { done: true, value: undefined })
    a.setResult(1)
    assert.deepEqual(await it.next(), { done: true, value: undefined })
  })

  it('the callback of a Future that completed is not removed twice', async () => {
    const a = new CountingFuture()
    const b = new CountingFuture()
    const it = asCompleted([a, b])
    a.setResult(1)
    assert.equal((await it.next()).value, a)
    await it.return!()
    // `a` already ran (and dropped) its callbacks; only `b` had one to remove.
    assert.equal(a.live, 1, 'a: one callback added, none removed by hand (it ran)')
    assert.equal(b.live, 0)
  })

  it('two next() calls in flight both resolve', async () => {
    const a = new Future<number>()
    const b = new Future<number>()
    const it = asCompleted([a, b])
    const first = it.next()
    const second = it.next()
    a.setResult(1)
    await turns()
    b.setResult(2)
    const outcome = await Promise.race([
      Promise.all([first, second]).then((results) => results.map((r) => r.value)),
      new Promise((resolve) => setTimeout(() => resolve('hung'), 100)),
    ])
    assert.ok(Array.isArray(outcome), 'both next() calls resolved')
    assert.deepEqual(new Set(outcome), new Set([a, b]))
  })

  it('return() while a next() is in flight ends that next()', async () => {
    const a = new Future<number>()
    const it = asCompleted([a])
    const pending = it.next()
    await it.return!()
    const outcome = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve('hung'), 100))])
    assert.deepEqual(outcome, { done: true, value: undefined })
  })

  it('refuses items that are not Futures and unknown options, synchronously', () => {
    assert.throws(
      () => asCompleted([resolved(1), 'x' as unknown as Future]),
      (e: unknown) => e instanceof TypeError && e.message === 'Expected `futures[1]` passed to asCompleted() to be a Future, got x',
    )
    assert.throws(() => asCompleted(7 as unknown as Future[]), TypeError)
    assert.throws(
      () => asCompleted([], { returnWhen: FIRST_COMPLETED } as never),
      (e: unknown) => e instanceof RangeError && e.message === 'Unknown option `returnWhen` for asCompleted(); expected one of `timeout`',
    )
    assert.throws(() => asCompleted([], { timeout: -1 }), RangeError)
    assert.throws(() => asCompleted([], { timeout: 'soon' as never }), TypeError)
  })
})

describe('wait() does linear work', () => {
  /** Counts every state query, the unit of wait()'s work. */
  let queries = 0
  class QueriedFuture<T = unknown> extends Future<T> {
    override done(): boolean {
      queries++
      return super.done()
    }
  }
  const N = 100_000

  it('100k Futures already done: a bounded number of state queries', async () => {
    const futures = Array.from({ length: N }, (_, i) => {
      const f = new QueriedFuture<number>()
      f.setResult(i)
      return f
    })
    queries = 0
    const { done, notDone } = await wait(futures)
    assert.equal(done.size, N)
    assert.equal(notDone.size, 0)
    assert.ok(queries <= 4 * N, `${queries} state queries for ${N} Futures`)
  })

  for (const returnWhen of [ALL_COMPLETED, FIRST_EXCEPTION] as const) {
    it(`100k Futures finishing after the call (${returnWhen}): a bounded number of state queries`, async () => {
      const futures = Array.from({ length: N }, () => new QueriedFuture<number>())
      queries = 0
      const waiting = wait(futures, { returnWhen })
      futures.forEach((f, i) => f.setResult(i))
      const { done, notDone } = await waiting
      assert.equal(done.size, N)
      assert.equal(notDone.size, 0)
      assert.ok(queries <= 10 * N, `${queries} state queries for ${N} Futures`)
    })
  }

  it('FIRST_COMPLETED among 100k pending Futures returns at the first and unregisters from the rest', async () => {
    const futures = Array.from({ length: N }, () => new CountingFuture<number>())
    const waiting = wait(futures, { returnWhen: FIRST_COMPLETED })
    futures[N - 1]!.setResult(1)
    const { done, notDone } = await waiting
    assert.equal(done.size, 1)
    assert.equal(notDone.size, N - 1)
    assert.equal(futures.reduce((n, f) => n + f.live, 0), 0)
  })
})

// Future: the state machine, waiting with timeouts, done callbacks,
// awaitability, and the internal transitions executors rely on.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Future, kForceCancel, kOutcome, kRequeue } from '../../src/futures/future.js'
import { CancelledError, InvalidStateError, MultiprocError, TimeoutError } from '../../src/errors.js'

/** Resolves with what `promise` rejects with; fails if it fulfils. */
async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

/** Lets a few turns of the event loop pass (timers, immediates and microtasks). */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** The next process warning, or null if none arrives within a few turns. */
async function nextWarning(action: () => void): Promise<Error | null> {
  let warning: Error | null = null
  const listener = (w: Error): void => {
    warning ??= w
  }
  process.on('warning', listener)
  try {
    action()
    await turns()
  } finally {
    process.off('warning', listener)
  }
  return warning
}

describe('Future: states', () => {
  it('starts PENDING: not running, not done, not cancelled', () => {
    const f = new Future<number>()
    assert.equal(f.state, 'PENDING')
    assert.equal(f.running(), false)
    assert.equal(f.done(), false)
    assert.equal(f.cancelled(), false)
    assert.equal(Object.prototype.toString.call(f), '[object Future]')
  })

  it('PENDING → RUNNING with setRunningOrNotifyCancel()', () => {
    const f = new Future<number>()
    assert.equal(f.setRunningOrNotifyCancel(), true)
    assert.equal(f.state, 'RUNNING')
    assert.equal(f.running(), true)
    assert.equal(f.done(), false)
  })

  it('RUNNING → FINISHED with setResult()', async () => {
    const f = new Future<number>()
    f.setRunningOrNotifyCancel()
    f.setResult(42)
    assert.equal(f.state, 'FINISHED')
    assert.equal(f.running(), false)
    assert.equal(f.done(), true)
    assert.equal(f.cancelled(), false)
    assert.equal(await f.result(), 42)
    assert.equal(await f.exception(), undefined)
  })

  it('PENDING → FINISHED directly with setResult() or setException()', async () => {
    const ok = new Future<string>()
    ok.setResult('x')
    assert.equal(ok.state, 'FINISHED')
    assert.equal(await ok.result(), 'x')

    const bad = new Future<string>()
    const error = new RangeError('bad')
    bad.setException(error)
    assert.equal(bad.state, 'FINISHED')
    assert.equal(await rejection(bad.result()), error)
    assert.equal(await bad.exception(), error)
  })

  it('RUNNING → FINISHED with setException(): result() rejects with that very error', async () => {
    const f = new Future<number>()
    f.setRunningOrNotifyCancel()
    const error = new TypeError('boom')
    f.setException(error)
    assert.equal(f.done(), true)
    assert.equal(await rejection(f.result()), error)
    assert.equal(await f.exception(), error)
  })

  it('setException() with a non-Error value keeps the value', async () => {
    const f = new Future()
    f.setException('just a string')
    assert.equal(await rejection(f.result()), 'just a string')
    assert.equal(await f.exception(), 'just a string')
  })

  it('a result of undefined is a success, not a failure', async () => {
    const f = new Future<undefined>()
    f.setResult(undefined)
    assert.equal(await f.result(), undefined)
    assert.equal(await f.exception(), undefined)
    assert.equal(f[kOutcome]().failed, false)
  })

  it('setException(undefined) is a failure with the value undefined', async () => {
    const f = new Future()
    f.setException(undefined)
    assert.equal(f[kOutcome]().failed, true)
    assert.equal(await rejection(f.result()), undefined)
  })

  it('PENDING → CANCELLED with cancel()', async () => {
    const f = new Future<number>()
    assert.equal(f.cancel(), true)
    assert.equal(f.state, 'CANCELLED')
    assert.equal(f.cancelled(), true)
    assert.equal(f.done(), true)
    assert.equal(f.running(), false)
    const error = await rejection(f.result())
    assert.ok(error instanceof CancelledError)
    assert.ok(error instanceof MultiprocError)
    assert.equal(error.code, 'ERR_MP_CANCELLED')
    assert.equal(error.cause, undefined)
    assert.ok((await rejection(f.exception())) instanceof CancelledError)
  })

  it('cancel() of a cancelled Future is true and changes nothing', () => {
    const f = new Future()
    let calls = 0
    f.addDoneCallback(() => calls++)
    assert.equal(f.cancel(), true)
    assert.equal(f.cancel(), true)
    assert.equal(f.state, 'CANCELLED')
    assert.equal(calls, 1)
  })

  it('cancel() of a RUNNING Future is false and it keeps running', () => {
    const f = new Future()
    f.setRunningOrNotifyCancel()
    assert.equal(f.cancel(), false)
    assert.equal(f.state, 'RUNNING')
    assert.equal(f.cancelled(), false)
  })

  it('cancel() of a FINISHED Future is false, whether it succeeded or failed', () => {
    const ok = new Future()
    ok.setResult(1)
    assert.equal(ok.cancel(), false)
    assert.equal(ok.state, 'FINISHED')
    const bad = new Future()
    bad.setException(new Error('x'))
    assert.equal(bad.cancel(), false)
    assert.equal(bad.state, 'FINISHED')
  })

  it('setRunningOrNotifyCancel() returns false for a cancelled Future, which stays cancelled', () => {
    const f = new Future()
    f.cancel()
    assert.equal(f.setRunningOrNotifyCancel(), false)
    assert.equal(f.state, 'CANCELLED')
  })

  it('setRunningOrNotifyCancel() throws InvalidStateError when RUNNING or FINISHED', () => {
    const running = new Future()
    running.setRunningOrNotifyCancel()
    assert.throws(() => running.setRunningOrNotifyCancel(), (e: unknown) => e instanceof InvalidStateError && /RUNNING/.test(e.message))
    const finished = new Future()
    finished.setResult(1)
    assert.throws(() => finished.setRunningOrNotifyCancel(), (e: unknown) => e instanceof InvalidStateError && /FINISHED/.test(e.message))
    assert.equal(finished.state, 'FINISHED')
  })

  it('setResult/setException twice throws InvalidStateError and keeps the first outcome', async () => {
    const f = new Future<number>()
    f.setResult(1)
    for (const second of [() => f.setResult(2), () => f.setException(new Error('late'))]) {
      assert.throws(second, (e: unknown) => {
        assert.ok(e instanceof InvalidStateError)
        assert.equal(e.code, 'ERR_MP_INVALID_STATE')
        assert.match(e.message, /FINISHED/)
        return true
      })
    }
    assert.equal(await f.result(), 1)

    const g = new Future<number>()
    const first = new Error('first')
    g.setException(first)
    assert.throws(() => g.setException(new Error('second')), InvalidStateError)
    assert.throws(() => g.setResult(3), InvalidStateError)
    assert.equal(await g.exception(), first)
  })

  it('setResult/setException on a cancelled Future throws InvalidStateError', async () => {
    const f = new Future<number>()
    f.cancel()
    assert.throws(() => f.setResult(1), (e: unknown) => e instanceof InvalidStateError && /CANCELLED/.test(e.message))
    assert.throws(() => f.setException(new Error('x')), InvalidStateError)
    assert.equal(f.state, 'CANCELLED')
    assert.ok((await rejection(f.result())) instanceof CancelledError)
  })
})

describe('Future: result() and exception() with a timeout', () => {
  it('result({ timeout }) rejects with TimeoutError and leaves the Future pending', async () => {
    const f = new Future<number>()
    const error = await rejection(f.result({ timeout: 10 }))
    assert.ok(error instanceof TimeoutError)
    assert.equal(error.code, 'ERR_MP_TIMEOUT')
    assert.match(error.message, /result\(\) timed out after 10 ms/)
    assert.equal(f.state, 'PENDING')
    assert.equal(f.done(), false)
    // The Future goes on and can still be completed and read.
    f.setResult(5)
    assert.equal(await f.result({ timeout: 10 }), 5)
  })

  it('exception({ timeout }) rejects with TimeoutError and leaves a RUNNING Future running', async () => {
    const f = new Future<number>()
    f.setRunningOrNotifyCancel()
    const error = await rejection(f.exception({ timeout: 5 }))
    assert.ok(error instanceof TimeoutError)
    assert.match(error.message, /exception\(\) timed out after 5 ms/)
    assert.equal(f.state, 'RUNNING')
    const failure = new Error('late')
    f.setException(failure)
    assert.equal(await f.exception(), failure)
  })

  it('a timeout of 0 on a pending Future times out', async () => {
    const f = new Future()
    assert.ok((await rejection(f.result({ timeout: 0 }))) instanceof TimeoutError)
    assert.equal(f.state, 'PENDING')
  })

  it('a timeout does not apply to a Future that is already done', async () => {
    const f = new Future<number>()
    f.setResult(3)
    assert.equal(await f.result({ timeout: 0 }), 3)
    assert.equal(await f.exception({ timeout: 0 }), undefined)
  })

  it('result() waits for a Future completed later; the timer does not fire afterwards', async () => {
    const f = new Future<string>()
    const pending = f.result({ timeout: 1_000 })
    setImmediate(() => f.setResult('later'))
    assert.equal(await pending, 'later')
  })

  it('result() of a pending Future rejects when it fails or is cancelled later', async () => {
    const f = new Future()
    const error = new Error('later')
    const pending = f.result()
    f.setException(error)
    assert.equal(await rejection(pending), error)

    const g = new Future()
    const waiting = g.result({ timeout: 1_000 })
    const exc = g.exception()
    g.cancel()
    assert.ok((await rejection(waiting)) instanceof CancelledError)
    assert.ok((await rejection(exc)) instanceof CancelledError)
  })

  it('a timed-out wait removes its done callback', async () => {
    const f = new Future<number>()
    await rejection(f.result({ timeout: 1 }))
    // Only the callback added now may run when the Future completes.
    const seen: number[] = []
    f.addDoneCallback(() => seen.push(1))
    f.setResult(1)
    assert.deepEqual(seen, [1])
  })

  it('Infinity and null/undefined mean no timeout', async () => {
    const f = new Future<number>()
    const a = f.result({ timeout: Infinity })
    const b = f.result({ timeout: undefined })
    const c = f.result({ timeout: null as unknown as number })
    const d = f.result()
    f.setResult(9)
    assert.deepEqual(await Promise.all([a, b, c, d]), [9, 9, 9, 9])
  })

  it('an invalid timeout is refused synchronously with TypeError / RangeError', () => {
    const f = new Future()
    assert.throws(() => f.result({ timeout: -1 }), (e: unknown) => {
      assert.ok(e instanceof RangeError)
      assert.equal(e.message, 'Expected `timeout` to be a number of milliseconds >= 0 (or Infinity), got -1')
      assert.equal((e as RangeError & { code: string }).code, 'ERR_MP_INVALID_ARG_VALUE')
      return true
    })
    assert.throws(() => f.result({ timeout: Number.NaN }), RangeError)
    assert.throws(() => f.result({ timeout: '10' as unknown as number }), (e: unknown) => {
      assert.ok(e instanceof TypeError)
      assert.equal(e.message, 'Expected `timeout` to be a number of milliseconds >= 0 (or Infinity), got "10"')
      return true
    })
    assert.throws(() => f.exception({ timeout: -5 }), RangeError)
  })
})

describe('Future: forced cancellation', () => {
  it('a running task whose signal aborted: CancelledError with the reason as cause', async () => {
    const f = new Future()
    f.setRunningOrNotifyCancel()
    const reason = new Error('aborted by the user')
    assert.equal(f[kForceCancel](reason), true)
    assert.equal(f.state, 'CANCELLED')
    assert.equal(f.cancelled(), true)
    const error = await rejection(f.result())
    assert.ok(error instanceof CancelledError)
    assert.equal(error.cause, reason)
    assert.match(error.message, /signal was aborted/)
    const viaException = await rejection(f.exception())
    assert.ok(viaException instanceof CancelledError)
    assert.equal(viaException.cause, reason)
  })

  it('a reason that is already a CancelledError is used as is', async () => {
    const f = new Future()
    f.setRunningOrNotifyCancel()
    const reason = new CancelledError('stopped by shutdown')
    f[kForceCancel](reason)
    assert.equal(await rejection(f.result()), reason)
  })

  it('force-cancels a PENDING Future too, and runs the done callbacks once', () => {
    const f = new Future()
    let calls = 0
    f.addDoneCallback(() => calls++)
    assert.equal(f[kForceCancel](new Error('x')), true)
    assert.equal(f.state, 'CANCELLED')
    assert.equal(calls, 1)
  })

  it('returns false and changes nothing when the Future is already done', async () => {
    const f = new Future<number>()
    f.setResult(1)
    assert.equal(f[kForceCancel](new Error('late')), false)
    assert.equal(f.state, 'FINISHED')
    assert.equal(await f.result(), 1)

    const g = new Future()
    g.cancel()
    assert.equal(g[kForceCancel](new Error('late')), false)
    const error = await rejection(g.result())
    assert.ok(error instanceof CancelledError)
    assert.equal(error.cause, undefined)
  })
})

describe('Future: requeue', () => {
  it('RUNNING → PENDING, after which it can be cancelled or run again', () => {
    const f = new Future()
    f.setRunningOrNotifyCancel()
    f[kRequeue]()
    assert.equal(f.state, 'PENDING')
    assert.equal(f.running(), false)
    assert.equal(f.setRunningOrNotifyCancel(), true)
    f[kRequeue]()
    assert.equal(f.cancel(), true)
  })

  it('throws InvalidStateError in any state but RUNNING', () => {
    const pending = new Future()
    assert.throws(() => pending[kRequeue](), (e: unknown) => e instanceof InvalidStateError && /PENDING/.test(e.message))
    const finished = new Future()
    finished.setResult(1)
    assert.throws(() => finished[kRequeue](), InvalidStateError)
    assert.equal(finished.state, 'FINISHED')
    const cancelled = new Future()
    cancelled.cancel()
    assert.throws(() => cancelled[kRequeue](), InvalidStateError)
    assert.equal(cancelled.state, 'CANCELLED')
  })
})

describe('Future: kOutcome', () => {
  it('reads the outcome synchronously', () => {
    const pending = new Future<number>()
    assert.deepEqual(pending[kOutcome](), { failed: false, value: undefined, error: undefined })
    const ok = new Future<number>()
    ok.setResult(7)
    assert.deepEqual(ok[kOutcome](), { failed: false, value: 7, error: undefined })
    const error = new Error('x')
    const bad = new Future<number>()
    bad.setException(error)
    const outcome = bad[kOutcome]()
    assert.equal(outcome.failed, true)
    assert.equal(outcome.error, error)
    assert.equal(outcome.value, undefined)
    const cancelled = new Future()
    cancelled.cancel()
    assert.equal(cancelled[kOutcome]().failed, false)
  })
})

describe('Future: done callbacks', () => {
  it('run once, in the order they were added, with the Future as argument', () => {
    const f = new Future<number>()
    const seen: string[] = []
    f.addDoneCallback((fut) => {
      assert.equal(fut, f)
      seen.push(`a:${fut.state}`)
    })
    f.addDoneCallback(() => seen.push('b'))
    f.addDoneCallback(() => seen.push('c'))
    assert.deepEqual(seen, [])
    f.setRunningOrNotifyCancel()
    assert.deepEqual(seen, [], 'running is not done')
    f.setResult(1)
    assert.deepEqual(seen, ['a:FINISHED', 'b', 'c'])
  })

  it('run synchronously when the Future settles, before setResult returns', () => {
    const f = new Future<number>()
    let value: unknown = 'not called'
    f.addDoneCallback((fut) => {
      value = fut[kOutcome]().value
    })
    f.setResult(11)
    assert.equal(value, 11)
  })

  it('run on failure and on cancellation too', () => {
    const failed = new Future()
    const cancelled = new Future()
    const seen: string[] = []
    failed.addDoneCallback((f) => seen.push(`failed:${f.state}`))
    cancelled.addDoneCallback((f) => seen.push(`cancelled:${f.state}`))
    failed.setException(new Error('x'))
    cancelled.cancel()
    assert.deepEqual(seen, ['failed:FINISHED', 'cancelled:CANCELLED'])
  })

  it('run at once when added to a Future that is already done', () => {
    const f = new Future<number>()
    f.setResult(1)
    const seen: number[] = []
    f.addDoneCallback(() => seen.push(1))
    assert.deepEqual(seen, [1])
    f.addDoneCallback(() => seen.push(2))
    assert.deepEqual(seen, [1, 2])
  })

  it('the same function added twice runs twice', () => {
    const f = new Future()
    let calls = 0
    const cb = (): void => {
      calls++
    }
    f.addDoneCallback(cb)
    f.addDoneCallback(cb)
    f.setResult(0)
    assert.equal(calls, 2)
  })

  it('a callback added by a callback during settling runs at once', () => {
    const f = new Future()
    const seen: string[] = []
    f.addDoneCallback((fut) => {
      seen.push('outer')
      fut.addDoneCallback(() => seen.push('nested'))
      seen.push('outer end')
    })
    f.addDoneCallback(() => seen.push('second'))
    f.setResult(0)
    assert.deepEqual(seen, ['outer', 'nested', 'outer end', 'second'])
  })

  it('a throwing callback emits a MultiprocWarning and the others still run', async () => {
    const f = new Future()
    const seen: string[] = []
    f.addDoneCallback(() => seen.push('first'))
    f.addDoneCallback(() => {
      throw new Error('callback exploded')
    })
    f.addDoneCallback(() => seen.push('third'))
    const warning = await nextWarning(() => f.setResult(1))
    assert.deepEqual(seen, ['first', 'third'])
    assert.ok(warning !== null, 'a warning was emitted')
    assert.equal(warning.name, 'MultiprocWarning')
    assert.equal((warning as Error & { code?: string }).code, 'MP_DONE_CALLBACK')
    assert.match(warning.message, /A Future done callback threw: Error: callback exploded/)
    assert.equal(f.state, 'FINISHED')
  })

  it('a single throwing callback emits a warning too', async () => {
    const f = new Future()
    f.addDoneCallback(() => {
      throw new TypeError('alone')
    })
    const warning = await nextWarning(() => f.cancel())
    assert.ok(warning !== null)
    assert.equal(warning.name, 'MultiprocWarning')
    assert.match(warning.message, /TypeError: alone/)
    assert.equal(f.state, 'CANCELLED')
  })

  it('a callback that throws a non-Error when added to a done Future emits a warning', async () => {
    const f = new Future()
    f.setResult(1)
    const warning = await nextWarning(() =>
      f.addDoneCallback(() => {
        throw 'a plain string'
      }),
    )
    assert.ok(warning !== null)
    assert.equal(warning.name, 'MultiprocWarning')
    assert.match(warning.message, /a plain string/)
  })

  it('a throwing callback does not reject the awaited Future', async () => {
    const f = new Future<number>()
    f.addDoneCallback(() => {
      throw new Error('ignored')
    })
    const awaited = f.result()
    const warning = await nextWarning(() => f.setResult(4))
    assert.ok(warning !== null)
    assert.equal(await awaited, 4)
  })

  it('refuses a non-function with a TypeError', () => {
    const f = new Future()
    assert.throws(() => f.addDoneCallback('nope' as never), (e: unknown) => {
      assert.ok(e instanceof TypeError)
      assert.equal(e.message, 'Expected `fn` to be a function, got "nope"')
      return true
    })
    assert.throws(() => f.addDoneCallback(undefined as never), TypeError)
  })
})

describe('Future: awaitable', () => {
  it('await gives the result', async () => {
    const f = new Future<number>()
    setImmediate(() => f.setResult(8))
    assert.equal(await f, 8)
  })

  it('await of a done Future gives the result', async () => {
    const f = new Future<string>()
    f.setResult('done')
    assert.equal(await f, 'done')
    assert.equal(await f, 'done', 'awaiting twice gives the same value')
  })

  it('await throws the error of a failed Future, and CancelledError for a cancelled one', async () => {
    const error = new Error('failed')
    const f = new Future()
    setImmediate(() => f.setException(error))
    assert.equal(await rejection(f), error)

    const g = new Future()
    const awaited = rejection(g)
    g.cancel()
    assert.ok((await awaited) instanceof CancelledError)

    const h = new Future()
    h.setRunningOrNotifyCancel()
    const reason = new Error('signal')
    const awaitedH = rejection(h)
    h[kForceCancel](reason)
    const cancelled = await awaitedH
    assert.ok(cancelled instanceof CancelledError)
    assert.equal(cancelled.cause, reason)
  })

  it('then() with both handlers, catch() and finally() behave like a Promise', async () => {
    const ok = new Future<number>()
    const bad = new Future<number>()
    const error = new Error('bad')
    const thenValue = ok.then((v) => v * 2, () => -1)
    const thenError = bad.then(() => 'no', (e) => e)
    const caught = bad.catch((e) => e)
    let finallyCalls = 0
    const fin = ok.finally(() => {
      finallyCalls++
    })
    ok.setResult(21)
    bad.setException(error)
    assert.equal(await thenValue, 42)
    assert.equal(await thenError, error)
    assert.equal(await caught, error)
    assert.equal(await fin, 21)
    assert.equal(finallyCalls, 1)
  })

  it('then() without a rejection handler rejects its own promise', async () => {
    const f = new Future<number>()
    const error = new Error('x')
    const derived = f.then((v) => v)
    f.setException(error)
    assert.equal(await rejection(derived), error)
  })

  it('works with Promise.all and Promise.race', async () => {
    const a = new Future<number>()
    const b = new Future<number>()
    const all = Promise.all([a, b])
    const race = Promise.race([a, b])
    // Promise.all/race adopt thenables in a later microtask: let them subscribe first.
    await turns(1)
    b.setResult(2)
    a.setResult(1)
    assert.equal(await race, 2)
    assert.deepEqual(await all, [1, 2])
  })

  it('is a Promise, and still a Future', () => {
    const f = new Future()
    assert.equal(f instanceof Promise, true)
    assert.equal(f instanceof Future, true)
    assert.equal(Object.prototype.toString.call(f), '[object Future]')
  })

  it('then(), catch() and finally() chain plain promises, not Futures', async () => {
    const f = new Future<number>()
    const chained = f.then((v) => v + 1)
    const caught = f.catch(() => 0)
    const fin = f.finally(() => {})
    for (const p of [chained, caught, fin]) {
      assert.equal(p instanceof Future, false)
      assert.equal(p instanceof Promise, true)
    }
    f.setResult(1)
    assert.equal(await chained.then((v) => v * 10), 20)
    assert.equal(await caught, 1)
    assert.equal(await fin, 1)
  })

  it('await and Promise.resolve take it as it is: no promise wraps it', async () => {
    const f = new Future<number>()
    assert.equal(Promise.resolve(f), f)
    f.setResult(3)
    assert.deepEqual(await Promise.all([f, f]), [3, 3])
  })

  it('takes no executor: Future.resolve() and new Future(fn) throw a TypeError', () => {
    assert.throws(() => new (Future as unknown as new (fn: unknown) => unknown)(() => {}), TypeError)
    assert.throws(() => Future.resolve(1), TypeError)
  })
})

describe('Future: no unhandled-rejection noise', () => {
  async function unhandledDuring(action: () => void | Promise<void>): Promise<unknown[]> {
    const seen: unknown[] = []
    const listener = (reason: unknown): void => {
      seen.push(reason)
    }
    process.on('unhandledRejection', listener)
    try {
      await action()
      await turns(5)
      await new Promise((resolve) => setTimeout(resolve, 10))
      await turns(2)
    } finally {
      process.off('unhandledRejection', listener)
    }
    return seen
  }

  it('a failed Future that nobody awaits causes no unhandledRejection', async () => {
    const seen = await unhandledDuring(() => {
      const f = new Future()
      f.setException(new Error('nobody listens'))
      const g = new Future()
      g.setRunningOrNotifyCancel()
      g.setException(new Error('nobody listens either'))
    })
    assert.deepEqual(seen, [])
  })

  it('a cancelled or force-cancelled Future that nobody awaits causes none either', async () => {
    const seen = await unhandledDuring(() => {
      new Future().cancel()
      const g = new Future()
      g.setRunningOrNotifyCancel()
      g[kForceCancel](new Error('aborted'))
    })
    assert.deepEqual(seen, [])
  })

  it('a failed Future with a done callback only causes none', async () => {
    const seen = await unhandledDuring(() => {
      const f = new Future()
      f.addDoneCallback(() => {})
      f.setException(new Error('x'))
    })
    assert.deepEqual(seen, [])
  })

  it('a failed Future awaited once with a handler, then dropped, causes none', async () => {
    const seen = await unhandledDuring(async () => {
      const f = new Future()
      const awaited = rejection(f)
      f.setException(new Error('x'))
      await awaited
    })
    assert.deepEqual(seen, [])
  })
})

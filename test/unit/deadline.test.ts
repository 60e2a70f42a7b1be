// Deadlines and the "done / deadline passed / signal aborted" race that the
// waits of futures/, connection/ and sync/ share.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { deadlineOf, remaining, until, type Listen } from '../../src/internal/deadline.js'
import { abortable } from '../../src/sync/monitor.js'

/** A signal that counts its abort listeners, to catch leaks. */
function countingSignal(): { controller: AbortController; signal: AbortSignal; live: () => number } {
  const controller = new AbortController()
  const signal = controller.signal
  let live = 0
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = ((type: string, fn: () => void, options?: { once?: boolean }) => {
    live++
    add(type, fn, options)
  }) as typeof signal.addEventListener
  signal.removeEventListener = ((type: string, fn: () => void) => {
    live--
    remove(type, fn)
  }) as typeof signal.removeEventListener
  return { controller, signal, live: () => live }
}

/** A Listen whose wake-up the test calls by hand, counting registrations. */
function manual(): { listen: Listen; wake: () => void; registered: () => number } {
  let wake: (() => void) | null = null
  let registered = 0
  return {
    listen: (w) => {
      wake = w
      registered++
      return () => {
        wake = null
        registered--
      }
    },
    wake: () => wake?.(),
    registered: () => registered,
  }
}

describe('deadlineOf / remaining', () => {
  it('no timeout (undefined or Infinity) is no deadline', () => {
    assert.equal(deadlineOf(undefined), Infinity)
    assert.equal(deadlineOf(Infinity), Infinity)
    assert.equal(remaining(Infinity), Infinity)
  })

  it('counts down from the timeout and never goes below zero', () => {
    const before = performance.now()
    const deadline = deadlineOf(50)
    assert.ok(deadline >= before + 50 && deadline <= performance.now() + 50)
    const left = remaining(deadline)
    assert.ok(left > 0 && left <= 50)
    assert.equal(remaining(performance.now() - 10), 0)
    assert.equal(remaining(deadlineOf(0)), 0)
  })
})

describe('until', () => {
  it('resolves done when woken, and removes the timer, the abort listener and the registration', async () => {
    const m = manual()
    const s = countingSignal()
    const waiting = until(m.listen, deadlineOf(10_000), s.signal)
    assert.equal(m.registered(), 1)
    assert.equal(s.live(), 1)
    m.wake()
    assert.equal(await waiting, 'done')
    assert.equal(m.registered(), 0)
    assert.equal(s.live(), 0)
    // A pending 10 s timer would keep this file alive; the runner's bound would show it.
  })

  it('resolves timed-out at the deadline, and a later wake-up changes nothing', async () => {
    const m = manual()
    const s = countingSignal()
    const start = performance.now()
    const ending = await until(m.listen, deadlineOf(20), s.signal)
    assert.equal(ending, 'timed-out')
    assert.ok(performance.now() - start >= 15)
    assert.equal(m.registered(), 0)
    assert.equal(s.live(), 0)
    m.wake()
  })

  it('resolves aborted when the signal aborts', async () => {
    const m = manual()
    const s = countingSignal()
    const waiting = until(m.listen, Infinity, s.signal)
    s.controller.abort(new Error('stop'))
    assert.equal(await waiting, 'aborted')
    assert.equal(m.registered(), 0)
    assert.equal(s.live(), 0)
  })

  it('a signal aborted before the wait ends it at once, without registering', async () => {
    const m = manual()
    const controller = new AbortController()
    controller.abort()
    assert.equal(await until(m.listen, Infinity, controller.signal), 'aborted')
    assert.equal(m.registered(), 0)
  })

  it('a listen that wakes at once resolves done and is unregistered', async () => {
    let unregistered = 0
    const ending = await until(
      (wake) => {
        wake()
        return () => {
          unregistered++
        }
      },
      deadlineOf(10_000),
    )
    assert.equal(ending, 'done')
    assert.equal(unregistered, 1)
  })

  it('a wake-up that arrives with an argument (a done callback gets its Future) is done', async () => {
    const ending = await until((wake) => {
      ;(wake as (arg: unknown) => void)('timed-out')
    }, Infinity)
    assert.equal(ending, 'done')
  })

  it('a deadline already passed ends on the next timer turn, after what already settles', async () => {
    const m = manual()
    const waiting = until(m.listen, performance.now() - 1)
    await Promise.resolve()
    m.wake()
    assert.equal(await waiting, 'done')
    assert.equal(await until(manual().listen, performance.now() - 1), 'timed-out')
  })

  it('with neither deadline nor signal, waits for the wake-up only', async () => {
    const m = manual()
    let ended = false
    const waiting = until(m.listen, Infinity).then((e) => {
      ended = true
      return e
    })
    await new Promise((r) => setTimeout(r, 10))
    assert.equal(ended, false)
    m.wake()
    assert.equal(await waiting, 'done')
  })
})

describe('abortable', () => {
  it('without a signal is the promise itself', () => {
    const p = Promise.resolve(1)
    assert.equal(abortable(p, undefined), p)
  })

  it('passes the value or the error through and removes its listener', async () => {
    const s = countingSignal()
    assert.equal(await abortable(Promise.resolve(7), s.signal), 7)
    await assert.rejects(abortable(Promise.reject(new Error('own')), s.signal), /own/)
    assert.equal(s.live(), 0)
  })

  it('rejects with the signal reason when it aborts first, or was aborted already', async () => {
    const s = countingSignal()
    const never = new Promise<never>(() => {})
    const waiting = abortable(never, s.signal)
    const reason = new Error('gone')
    s.controller.abort(reason)
    await assert.rejects(waiting, (e) => e === reason)
    assert.equal(s.live(), 0)
    await assert.rejects(abortable(never, s.signal), (e) => e === reason)
  })
})

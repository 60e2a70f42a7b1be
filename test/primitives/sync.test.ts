// Lock, RLock, Semaphore, Event, Condition and Barrier: Python's semantics
// in one thread (async forms), then across workers on every context.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CLUSTER_CAPABILITIES } from '../../src/backends/nats/capabilities.js'
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  Lock,
  NotHeldError,
  Queue,
  RLock,
  Semaphore,
  TimeoutError,
  TooManyReleasesError,
  UnsupportedBackendError,
  Value,
} from '../../src/index.js'
import { kShare, isShareable, type Shareable } from '../../src/wire/shareable.js'
import { getContext } from '../../src/index.js'
import { barrierParty, conditionWaiter, rlockTwice, semaphoreUser, setEvent, waitEvent } from '../fixtures/primitives.js'
import { contexts, runAll } from './contexts.js'
import { rejection } from '../helpers.js'

describe('Lock (one thread)', () => {
  it('acquires, refuses a second non-blocking acquire, times out, releases', async () => {
    const lock = new Lock()
    assert.equal(await lock.acquire(), true)
    assert.equal(lock.locked(), true)
    assert.equal(await lock.acquire({ blocking: false }), false)
    assert.equal(await lock.acquire({ timeout: 20 }), false)
    lock.release()
    assert.equal(lock.locked(), false)
  })

  it('releasing an unlocked lock is a NotHeldError', () => {
    assert.throws(() => new Lock().release(), NotHeldError)
  })

  it('hands over to a waiter on release', async () => {
    const lock = new Lock()
    await lock.acquire()
    const waiting = lock.acquire()
    setTimeout(() => lock.release(), 5)
    assert.equal(await waiting, true)
    assert.equal(lock.locked(), true)
  })

  it('hold() gives a handle for await using; a timeout is a TimeoutError', async () => {
    const lock = new Lock()
    {
      await using _ = await lock.hold()
      assert.equal(lock.locked(), true)
      const error = await rejection(lock.hold({ timeout: 10 }))
      assert.ok(error instanceof TimeoutError)
    }
    assert.equal(lock.locked(), false)
  })

  it('blocking forms are refused on the main thread', () => {
    assert.throws(() => new Lock().acquireSync(), UnsupportedBackendError)
    assert.throws(() => new Event().waitSync(), UnsupportedBackendError)
    assert.throws(() => new Queue().getSync(), UnsupportedBackendError)
  })

  it('validates its options', async () => {
    await assert.rejects(new Lock().acquire({ timeout: -1 }), RangeError)
    await assert.rejects(new Lock().acquire({ blocking: 'yes' as never }), TypeError)
  })
})

describe('RLock (one thread)', () => {
  it('is re-entrant and must be released as often as acquired', async () => {
    const lock = new RLock()
    assert.equal(await lock.acquire(), true)
    assert.equal(await lock.acquire({ blocking: false }), true)
    lock.release()
    lock.release()
    assert.throws(() => lock.release(), NotHeldError)
  })
})

describe('Semaphore (one thread)', () => {
  it('counts down and up; BoundedSemaphore refuses too many releases', async () => {
    const sem = new Semaphore(2)
    assert.equal(await sem.acquire(), true)
    assert.equal(await sem.acquire(), true)
    assert.equal(await sem.acquire({ timeout: 10 }), false)
    sem.release(2)
    assert.equal(sem.getValue(), 2)
    const bounded = new BoundedSemaphore(1)
    assert.throws(() => bounded.release(), TooManyReleasesError)
    await bounded.acquire()
    bounded.release()
    assert.throws(() => new Semaphore(-1), RangeError)
  })
})

describe('Event (one thread)', () => {
  it('wait times out while clear, returns at once when set', async () => {
    const event = new Event()
    assert.equal(event.isSet(), false)
    assert.equal(await event.wait({ timeout: 10 }), false)
    setTimeout(() => event.set(), 5)
    assert.equal(await event.wait(), true)
    assert.equal(event.isSet(), true)
    event.clear()
    assert.equal(event.isSet(), false)
  })
})

describe('Condition (one thread)', () => {
  it('wait and notify need the lock', async () => {
    const cond = new Condition()
    await assert.rejects(cond.wait(), NotHeldError)
    assert.throws(() => cond.notify(), NotHeldError)
  })

  it('wait times out with false; waitFor returns the predicate once true', async () => {
    const cond = new Condition(new Lock())
    await cond.acquire()
    assert.equal(await cond.wait({ timeout: 10 }), false)
    let ready = 0
    setTimeout(async () => {
      await cond.acquire()
      ready = 42
      cond.notifyAll()
      cond.release()
    }, 5)
    assert.equal(await cond.waitFor(() => ready), 42)
    assert.equal(await cond.waitFor(() => false, { timeout: 10 }), false)
    cond.release()
  })

  it('refuses a lock that is not a Lock or RLock', () => {
    assert.throws(() => new Condition({} as never), TypeError)
  })
})

describe('Barrier (one thread)', () => {
  it('releases all parties together with indexes 0..n-1, runs the action once, and is reusable', async () => {
    let actions = 0
    const barrier = new Barrier(3, { action: () => void actions++ })
    for (let round = 0; round < 2; round++) {
      const indexes = await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()])
      assert.deepEqual([...indexes].sort(), [0, 1, 2])
    }
    assert.equal(actions, 2)
    assert.equal(barrier.parties, 3)
    assert.equal(barrier.nWaiting, 0)
  })

  it('a timeout breaks it for every waiter; reset makes it usable again', async () => {
    const barrier = new Barrier(3)
    const first = rejection(barrier.wait())
    const second = rejection(barrier.wait({ timeout: 20 }))
    assert.ok((await second) instanceof BrokenBarrierError)
    assert.ok((await first) instanceof BrokenBarrierError)
    assert.equal(barrier.broken, true)
    await assert.rejects(barrier.wait(), BrokenBarrierError)
    barrier.reset()
    assert.equal(barrier.broken, false)
    const two = new Barrier(2)
    assert.deepEqual((await Promise.all([two.wait(), two.wait()])).sort(), [0, 1])
  })

  it('abort breaks waiters; an action that throws breaks it too', async () => {
    const barrier = new Barrier(2)
    const waiting = rejection(barrier.wait())
    barrier.abort()
    assert.ok((await waiting) instanceof BrokenBarrierError)
    const failing = new Barrier(2, {
      action: () => {
        throw new Error('action failed')
      },
    })
    const [a, b] = await Promise.all([rejection(failing.wait()), rejection(failing.wait())])
    const messages = [a, b].map((e: Error) => e.message)
    assert.ok(messages.includes('action failed'))
    assert.ok([a, b].some((e) => e instanceof BrokenBarrierError))
    assert.equal(failing.broken, true)
  })

  it('reset while parties wait breaks them', async () => {
    const barrier = new Barrier(3)
    const waiting = rejection(barrier.wait())
    await new Promise((r) => setTimeout(r, 5))
    barrier.reset()
    assert.ok((await waiting) instanceof BrokenBarrierError)
    assert.equal(barrier.broken, false)
  })
})

for (const ctx of contexts()) {
  describe(`primitives across workers [${ctx.name}]`, () => {
    it('Event: a worker waits until the main program sets it, another times out', async () => {
      const event = new Event()
      const out = new Queue<boolean>()
      const waiter = new ctx.Process({ target: waitEvent, args: [event, 60_000, out] })
      waiter.start()
      await new Promise((r) => setTimeout(r, 20))
      await runAll([new ctx.Process({ target: setEvent, args: [event] })])
      await waiter.join()
      assert.equal(await out.get(), true)
      const other = new Event()
      await runAll([new ctx.Process({ target: waitEvent, args: [other, 20, out] })])
      assert.equal(await out.get(), false)
    })

    it('Barrier: workers and the main program meet; a worker timing out breaks it', async () => {
      const barrier = new Barrier(3)
      const out = new Queue<number | string>()
      const ps = [0, 1].map(() => new ctx.Process({ target: barrierParty, args: [barrier, out] }))
      for (const p of ps) p.start()
      const mine = await barrier.wait()
      for (const p of ps) await p.join()
      assert.deepEqual([mine, await out.get(), await out.get()].sort(), [0, 1, 2])

      const lonely = new Barrier(2, { timeout: 30 })
      await runAll([new ctx.Process({ target: barrierParty, args: [lonely, out] })])
      assert.equal(await out.get(), 'BrokenBarrierError')
      assert.equal(lonely.broken, true)
    })

    it('Condition: workers wait for a state change made and notified by the main program', async () => {
      const cond = new Condition()
      const state = new ctx.Value('i32', 0)
      const out = new Queue<number>()
      const ps = [0, 1].map(() => new ctx.Process({ target: conditionWaiter, args: [cond, state, out] }))
      for (const p of ps) p.start()
      await new Promise((r) => setTimeout(r, 30))
      await cond.acquire()
      state.value = 7
      cond.notifyAll()
      cond.release()
      for (const p of ps) await p.join()
      assert.deepEqual([await out.get(), await out.get()], [7, 7])
    })

    it('Semaphore(2): never more than two workers inside', async () => {
      const sem = new Semaphore(2)
      const lock = new Lock()
      const inside = new ctx.Value('i32', 0)
      const maxSeen = new ctx.Value('i32', 0)
      await runAll([0, 1, 2, 3].map(() => new ctx.Process({ target: semaphoreUser, args: [sem, inside, maxSeen, lock, 5] })))
      assert.ok(maxSeen.value >= 1 && maxSeen.value <= 2, `max inside ${maxSeen.value}`)
      assert.equal(inside.value, 0)
      assert.equal(sem.getValue(), 2)
    })

    it('a lock and a condition made with it are one lock in the worker', async () => {
      const { acquireViaConditionReleaseViaLock } = await import('../fixtures/primitives.js')
      const lock = new Lock()
      const out = new Queue<string>()
      await runAll([new ctx.Process({ target: acquireViaConditionReleaseViaLock, args: [new Condition(lock), lock, out] })])
      assert.equal(await out.get(), 'ok')
      assert.equal(lock.locked(), false)
    })

    it('RLock: re-entrant in a worker; one release too many is a NotHeldError there', async () => {
      const out = new Queue<string>()
      const lock = new RLock()
      await runAll([new ctx.Process({ target: rlockTwice, args: [lock, out] })])
      assert.equal(await out.get(), 'NotHeldError')
      assert.equal(await lock.acquire({ blocking: false }), true, 'released by the worker')
      lock.release()
    })
  })
}

describe('Value', () => {
  it('a thread Value cannot go to a child process: UnsupportedBackendError at start', async () => {
    const { increment } = await import('../fixtures/primitives.js')
    const p = new (getContext('process').Process)({ target: increment, args: [new Lock(), new Value('i32', 0), 1] })
    assert.throws(() => p.start(), UnsupportedBackendError)
  })
})

describe('primitives and backends that cannot reach them', () => {
  it('passing one to a backend without this machine\'s memory (a cluster) is an UnsupportedBackendError', async () => {
    const cluster = { ...CLUSTER_CAPABILITIES, backend: 'nats' }
    const objects: unknown[] = [new Lock(), new RLock(), new Semaphore(), new Event(), new Condition(), new Barrier(2), new Queue(), new Value('i32', 0)]
    objects.push(new (getContext('process').Value)('i32', 0))
    for (const object of objects) {
      assert.ok(isShareable(object))
      assert.throws(() => (object as Shareable)[kShare](cluster), UnsupportedBackendError, String(object))
    }
  })
})

describe('blocking forms in worker threads', () => {
  it('waitSync, waitForSync, acquireSync, getSync/putSync behave like their async forms', async () => {
    const { syncForms, consumeSync, produce } = await import('../fixtures/primitives.js')
    const ctx = getContext('thread')
    const barrier = new Barrier(2)
    const event = new Event()
    const cond = new Condition()
    const state = new Value('i32', 0)
    const sem = new Semaphore(0)
    const out = new Queue<string>()
    const p = new ctx.Process({ target: syncForms, args: [barrier, event, cond, state, sem, out] })
    p.start()
    await barrier.wait()
    assert.equal(await out.get(), 'barrier true')
    event.set()
    assert.equal(await out.get(), 'event true')
    await cond.acquire()
    state.value = 5
    cond.notifyAll()
    cond.release()
    assert.equal(await out.get(), 'condition true')
    assert.equal(await out.get(), 'semaphore false')
    await p.join()
    assert.equal(p.exitCode, 0)

    const q = new Queue<number>({ maxsize: 4 })
    const results = new Queue<[number, number]>()
    const c = new ctx.Process({ target: consumeSync, args: [q, results] })
    c.start()
    await runAll([new ctx.Process({ target: produce, args: [q, 0, 100] })])
    await q.put(-1)
    await c.join()
    assert.deepEqual(await results.get(), [100, 4950])
  })
})

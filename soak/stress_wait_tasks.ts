// Tasks of the wait/notify stress harness (soak/stress_wait.ts): CPython's
// wait(FIRST_EXCEPTION) scenario, and one side of a ping-pong per primitive,
// in an async form (main thread, child processes) and a blocking form
// (worker threads). Each side returns how many of its waits timed out: a
// timed-out wait is a wake-up that was lost.
import { BrokenBarrierError, Empty, Full } from '../src/errors.js'
import type { Event } from '../src/sync/event.js'
import type { Semaphore } from '../src/sync/semaphore.js'
import type { Condition } from '../src/sync/condition.js'
import type { Lock } from '../src/sync/lock.js'
import type { Barrier } from '../src/sync/barrier.js'
import type { Queue } from '../src/queues/queue.js'
import type { Value } from '../src/sharedctypes.js'

export function mul(a: number, b: number): number {
  return a * b
}

export async function waitAndRaise(event: Event): Promise<never> {
  await event.wait()
  throw new Error('raised after the event')
}

export async function eventWait(event: Event): Promise<boolean> {
  return event.wait()
}

/** The blocking form of `waitAndRaise`, for worker threads. */
export function waitAndRaiseSync(event: Event): never {
  event.waitSync()
  throw new Error('raised after the event')
}

/** The blocking form of `eventWait`, for worker threads. */
export function eventWaitSync(event: Event): boolean {
  return event.waitSync()
}

export type Pattern = 'event' | 'semaphore' | 'condition' | 'lock' | 'barrier' | 'queue'
export type Role = 'a' | 'b'

/**
 * What a side reports. A wait that times out counts, and so does one that
 * succeeded only on its final check at the deadline: a lost wake-up that
 * the timeout papered over is still a lost wake-up.
 */
export interface SideResult {
  /** Waits that ended at their deadline. */
  timedOut: number
  wrong: number
  /** The longest wait, in ms. */
  slowestMs: number
}

/** Times each wait of a side. */
function stopwatch(r: SideResult, waitMs: number): { start(): void; stop(): void } {
  let t0 = 0
  return {
    start: () => {
      t0 = performance.now()
    },
    stop: () => {
      const took = performance.now() - t0
      if (took > r.slowestMs) r.slowestMs = Math.round(took)
      if (took >= waitMs) r.timedOut++
    },
  }
}

/**
 * The async side `role` of `pattern`, `n` rounds, each wait bounded by `waitMs`.
 * `objects` are the pattern's primitives, in the order `stress_wait.ts` makes them.
 */
export async function side(pattern: Pattern, role: Role, objects: unknown[], n: number, waitMs: number): Promise<SideResult> {
  const r: SideResult = { timedOut: 0, wrong: 0, slowestMs: 0 }
  const timeout = { timeout: waitMs }
  const w = stopwatch(r, waitMs)
  switch (pattern) {
    case 'event': {
      const [ping, pong] = objects as [Event, Event]
      for (let i = 0; i < n; i++) {
        if (role === 'a') {
          ping.set()
          w.start()
          await pong.wait(timeout)
          w.stop()
          pong.clear()
        } else {
          w.start()
          await ping.wait(timeout)
          w.stop()
          ping.clear()
          pong.set()
        }
      }
      return r
    }
    case 'semaphore': {
      const [s1, s2] = objects as [Semaphore, Semaphore]
      for (let i = 0; i < n; i++) {
        if (role === 'a') {
          s1.release()
          w.start()
          await s2.acquire(timeout)
          w.stop()
        } else {
          w.start()
          await s1.acquire(timeout)
          w.stop()
          s2.release()
        }
      }
      return r
    }
    case 'condition': {
      const [cond, turn] = objects as [Condition, Value<'i32'>]
      const mine = role === 'a' ? 0 : 1
      for (let i = 0; i < n; i++) {
        await cond.acquire()
        try {
          while (turn.value % 2 !== mine) {
            w.start()
            const woken = await cond.wait(timeout)
            w.stop()
            if (!woken) break
          }
          turn.value = turn.value + 1
          cond.notifyAll()
        } finally {
          cond.release()
        }
      }
      return r
    }
    case 'lock': {
      const [lock, count] = objects as [Lock, Value<'i32'>]
      for (let i = 0; i < n; i++) {
        w.start()
        const got = await lock.acquire(timeout)
        w.stop()
        if (!got) continue
        count.value = count.value + 1
        lock.release()
        if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      return r
    }
    case 'barrier': {
      const [barrier] = objects as [Barrier]
      for (let i = 0; i < n; i++) {
        w.start()
        try {
          await barrier.wait(timeout)
        } catch (error) {
          if (!(error instanceof BrokenBarrierError)) throw error
          return r // a broken barrier stays broken: the other side fails too
        } finally {
          w.stop()
        }
      }
      return r
    }
    case 'queue': {
      const [q1, q2] = objects as [Queue<number>, Queue<number>]
      for (let i = 0; i < n; i++) {
        // A round is a put and a get on each side: it may take up to two waits.
        w.start()
        // A round is a put and a get on each side: it may take up to two waits.
        w.start()
        try {
          if (role === 'a') {
            await q1.put(i, timeout)
            if ((await q2.get(timeout)) !== i) r.wrong++
          } else {
            await q2.put(await q1.get(timeout), timeout)
          }
        } catch (error) {
          if (!(error instanceof Empty || error instanceof Full)) throw error
        } finally {
          w.stop()
        }
      }
      return r
    }
  }
}

/** The blocking form of `side`, for worker threads. */
export function sideSync(pattern: Pattern, role: Role, objects: unknown[], n: number, waitMs: number): SideResult {
  const r: SideResult = { timedOut: 0, wrong: 0, slowestMs: 0 }
  const timeout = { timeout: waitMs }
  const w = stopwatch(r, waitMs)
  switch (pattern) {
    case 'event': {
      const [ping, pong] = objects as [Event, Event]
      for (let i = 0; i < n; i++) {
        if (role === 'a') {
          ping.set()
          w.start()
          pong.waitSync(timeout)
          w.stop()
          pong.clear()
        } else {
          w.start()
          ping.waitSync(timeout)
          w.stop()
          ping.clear()
          pong.set()
        }
      }
      return r
    }
    case 'semaphore': {
      const [s1, s2] = objects as [Semaphore, Semaphore]
      for (let i = 0; i < n; i++) {
        if (role === 'a') {
          s1.release()
          w.start()
          s2.acquireSync(timeout)
          w.stop()
        } else {
          w.start()
          s1.acquireSync(timeout)
          w.stop()
          s2.release()
        }
      }
      return r
    }
    case 'condition': {
      const [cond, turn] = objects as [Condition, Value<'i32'>]
      const mine = role === 'a' ? 0 : 1
      for (let i = 0; i < n; i++) {
        cond.acquireSync()
        try {
          while (turn.value % 2 !== mine) {
            w.start()
            const woken = cond.waitSync(timeout)
            w.stop()
            if (!woken) break
          }
          turn.value = turn.value + 1
          cond.notifyAll()
        } finally {
          cond.release()
        }
      }
      return r
    }
    case 'lock': {
      const [lock, count] = objects as [Lock, Value<'i32'>]
      for (let i = 0; i < n; i++) {
        w.start()
        const got = lock.acquireSync(timeout)
        w.stop()
        if (!got) continue
        count.value = count.value + 1
        lock.release()
      }
      return r
    }
    case 'barrier': {
      const [barrier] = objects as [Barrier]
      for (let i = 0; i < n; i++) {
        w.start()
        try {
          barrier.waitSync(timeout)
        } catch (error) {
          if (!(error instanceof BrokenBarrierError)) throw error
          return r
        } finally {
          w.stop()
        }
      }
      return r
    }
    case 'queue': {
      const [q1, q2] = objects as [Queue<number>, Queue<number>]
      for (let i = 0; i < n; i++) {
        // A round is a put and a get on each side: it may take up to two waits.
        w.start()
        // A round is a put and a get on each side: it may take up to two waits.
        w.start()
        try {
          if (role === 'a') {
            q1.putSync(i, timeout)
            if (q2.getSync(timeout) !== i) r.wrong++
          } else {
            q2.putSync(q1.getSync(timeout), timeout)
          }
        } catch (error) {
          if (!(error instanceof Empty || error instanceof Full)) throw error
        } finally {
          w.stop()
        }
      }
      return r
    }
  }
}

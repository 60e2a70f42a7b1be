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

/** What a side reports: waits that timed out, and values that were not the expected ones. */
export interface SideResult {
  timedOut: number
  wrong: number
}

/**
 * The async side `role` of `pattern`, `n` rounds, each wait bounded by `waitMs`.
 * `objects` are the pattern's primitives, in the order `stress_wait.ts` makes them.
 */
export async function side(pattern: Pattern, role: Role, objects: unknown[], n: number, waitMs: number): Promise<SideResult> {
  const r: SideResult = { timedOut: 0, wrong: 0 }
  const timeout = { timeout: waitMs }
  switch (pattern) {
    case 'event': {
      const [ping, pong] = objects as [Event, Event]
      for (let i = 0; i < n; i++) {
        if (role === 'a') {
          ping.set()
          if (!(await pong.wait(timeout))) r.timedOut++
          pong.clear()
        } else {
          if (!(await ping.wait(timeout))) r.timedOut++
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
          if (!(await s2.acquire(timeout))) r.timedOut++
        } else {
          if (!(await s1.acquire(timeout))) r.timedOut++
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
            if (!(await cond.wait(timeout))) {
              r.timedOut++
              break
            }
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
        if (!(await lock.acquire(timeout))) {
          r.timedOut++
          continue
        }
        count.value = count.value + 1
        lock.release()
        if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      return r
    }
    case 'barrier': {
      const [barrier] = objects as [Barrier]
      for (let i = 0; i < n; i++) {
        try {
          await barrier.wait(timeout)
        } catch (error) {
          if (!(error instanceof BrokenBarrierError)) throw error
          r.timedOut++
          return r // a broken barrier stays broken: the other side fails too
        }
      }
      return r
    }
    case 'queue': {
      const [q1, q2] = objects as [Queue<number>, Queue<number>]
      for (let i = 0; i < n; i++) {
        try {
          if (role === 'a') {
            await q1.put(i, timeout)
            if ((await q2.get(timeout)) !== i) r.wrong++
          } else {
            await q2.put(await q1.get(timeout), timeout)
          }
        } catch (error) {
          if (!(error instanceof Empty || error instanceof Full)) throw error
          r.timedOut++
        }
      }
      return r
    }
  }
}

/** The blocking form of `side`, for worker threads. */
export function sideSync(pattern: Pattern, role: Role, objects: unknown[], n: number, waitMs: number): SideResult {
  const r: SideResult = { timedOut: 0, wrong: 0 }
  const timeout = { timeout: waitMs }
  switch (pattern) {
    case 'event': {
      const [ping, pong] = objects as [Event, Event]
      for (let i = 0; i < n; i++) {
        if (role === 'a') {
          ping.set()
          if (!pong.waitSync(timeout)) r.timedOut++
          pong.clear()
        } else {
          if (!ping.waitSync(timeout)) r.timedOut++
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
          if (!s2.acquireSync(timeout)) r.timedOut++
        } else {
          if (!s1.acquireSync(timeout)) r.timedOut++
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
            if (!cond.waitSync(timeout)) {
              r.timedOut++
              break
            }
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
        if (!lock.acquireSync(timeout)) {
          r.timedOut++
          continue
        }
        count.value = count.value + 1
        lock.release()
      }
      return r
    }
    case 'barrier': {
      const [barrier] = objects as [Barrier]
      for (let i = 0; i < n; i++) {
        try {
          barrier.waitSync(timeout)
        } catch (error) {
          if (!(error instanceof BrokenBarrierError)) throw error
          r.timedOut++
          return r
        }
      }
      return r
    }
    case 'queue': {
      const [q1, q2] = objects as [Queue<number>, Queue<number>]
      for (let i = 0; i < n; i++) {
        try {
          if (role === 'a') {
            q1.putSync(i, timeout)
            if (q2.getSync(timeout) !== i) r.wrong++
          } else {
            q2.putSync(q1.getSync(timeout), timeout)
          }
        } catch (error) {
          if (!(error instanceof Empty || error instanceof Full)) throw error
          r.timedOut++
        }
      }
      return r
    }
  }
}

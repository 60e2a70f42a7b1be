// Tasks of the wait/notify stress harness (soak/stress_wait.ts).
import type { Event } from '../src/sync/event.js'

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

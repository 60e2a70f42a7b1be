/**
 * Deadlines, and waiting for something until a deadline passes or a signal
 * aborts.
 *
 * A deadline is a `performance.now()` time (Infinity: none), taken once
 * when an operation starts, so that a wait made of several rounds counts
 * every round against the same limit.
 *
 * `until` is the race "done / deadline passed / signal aborted" under the
 * waits of futures/, connection/ and sync/. It reports how the wait ended
 * rather than rejecting, so that each caller raises its own error with its
 * own message (or none: `wait()` returns what is done when time runs out).
 */

/** A deadline from a timeout in ms (undefined or Infinity: none). */
export function deadlineOf(timeout: number | undefined): number {
  return timeout === undefined || timeout === Infinity ? Infinity : performance.now() + timeout
}

/** Milliseconds left before `deadline`, never negative (Infinity when there is none). */
export function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now())
}

/** How a wait of `until` ended. */
export type Ending = 'done' | 'timed-out' | 'aborted'

/** Registers `wake` with what is awaited; returns what unregisters it, if anything needs to. */
export type Listen = (wake: () => void) => (() => void) | void

// What the timer and the abort listener pass to `end`; anything else (nothing,
// or the Future a done-callback is given) is the awaited thing waking it.
const kTimer = Symbol('deadline passed')
const kAbort = Symbol('signal aborted')

/**
 * Waits until the wake-up that `listen` registered is called, `deadline`
 * passes or `signal` aborts, whichever comes first, and resolves to which.
 * However it ends, the timer, the abort listener and the registration
 * (through what `listen` returned) are removed. `listen` may wake at once.
 * A signal already aborted ends the wait at once (an abort event would
 * never come); a deadline already passed ends it on the next timer turn,
 * after what is already settling.
 */
export function until(listen: Listen, deadline: number, signal?: AbortSignal): Promise<Ending> {
  if (signal?.aborted) return Promise.resolve('aborted')
  return new Promise<Ending>((resolve) => {
    let over = false
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    let unlisten: (() => void) | void = undefined
    // One closure serves as the wake-up, the timer's callback (with kTimer) and the end of an abort.
    const end = (how?: unknown): void => {
      if (over) return
      over = true
      if (timer !== undefined) clearTimeout(timer)
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort)
      if (unlisten) unlisten()
      resolve(how === kTimer ? 'timed-out' : how === kAbort ? 'aborted' : 'done')
    }
    if (Number.isFinite(deadline)) timer = setTimeout(end, Math.max(0, deadline - performance.now()), kTimer)
    if (signal !== undefined) {
      onAbort = () => end(kAbort)
      signal.addEventListener('abort', onAbort, { once: true })
    }
    unlisten = listen(end)
    if (over && unlisten) unlisten()
  })
}

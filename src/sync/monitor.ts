/**
 * The one waiting mechanism under every primitive of `sync/` and `queues/`.
 *
 * A primitive's state lives in a SharedArrayBuffer as Int32 cells. Cell 0 is
 * a tiny internal mutex guarding the other cells; the state cells are only
 * read and changed while it is held, and critical sections are a few loads
 * and stores, so it is held for nanoseconds (even the main thread may block
 * on it: that is no more than a contended spinlock). Waiting for a state
 * change is done on a *sequence* cell:
 *
 *   waiter:   lock ─ check state ─ s = seq ─ unlock ─ wait(seq == s) ─ lock ─ check again
 *   changer:  lock ─ change state ─ seq++ ─ unlock ─ notify(seq)
 *
 * The waiter reads `seq` while holding the mutex, so a change made after it
 * unlocked bumps `seq` and its wait returns at once: no lost wake-up.
 *
 * Two ways to wait: `Atomics.wait` (blocks the thread; allowed only off the
 * main thread, where blocking is safe) and `Atomics.waitAsync` (a Promise;
 * anywhere). A pending `waitAsync` does not keep Node's event loop alive, so
 * while any async wait is pending one referenced timer does.
 */
import { isMainThread, threadId } from 'node:worker_threads'
import { TimeoutError, UnsupportedBackendError } from '../errors.js'
import { remaining, until } from '../internal/deadline.js'

export const MUTEX = 0

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
/** `Atomics.waitAsync` (Node >= 16; not yet in TypeScript's ES2022 lib). */
export const atomicsWaitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t?: number): WaitAsyncResult }).waitAsync

const SPINS = 64

/** Locks the internal mutex of `cells` (Drepper's three-state futex mutex). */
export function lockCells(cells: Int32Array): void {
  for (let i = 0; i < SPINS; i++) if (Atomics.compareExchange(cells, MUTEX, 0, 1) === 0) return
  let c = Atomics.exchange(cells, MUTEX, 2)
  while (c !== 0) {
    Atomics.wait(cells, MUTEX, 2, 5)
    c = Atomics.exchange(cells, MUTEX, 2)
  }
}

export function unlockCells(cells: Int32Array): void {
  if (Atomics.exchange(cells, MUTEX, 0) === 2) Atomics.notify(cells, MUTEX, 1)
}

/** Bumps a sequence cell and wakes up to `count` of its waiters. Call with the mutex held or not. */
export function bump(cells: Int32Array, seq: number, count = Infinity): void {
  Atomics.add(cells, seq, 1)
  Atomics.notify(cells, seq, count)
}

/** Whether this thread may block (Atomics.wait): worker threads only. */
export function canBlock(): boolean {
  return !isMainThread
}

/** Throws the typed error for a blocking call where blocking is not allowed. */
export function assertCanBlock(what: string): void {
  if (isMainThread) {
    throw new UnsupportedBackendError(
      `${what} blocks its thread and cannot be called on the main thread (it would freeze the event loop); use the async form (await ...) instead`,
    )
  }
}

let keepAliveCount = 0
let keepAliveTimer: NodeJS.Timeout | undefined

/** Keeps the event loop alive while `promise` (a waitAsync) is pending. */
export async function keepingLoop<T>(promise: Promise<T>): Promise<T> {
  holdLoop()
  try {
    return await promise
  } finally {
    releaseLoop()
  }
}

function holdLoop(): void {
  if (keepAliveCount++ === 0) keepAliveTimer = setInterval(() => {}, 1 << 30)
}

function releaseLoop(): void {
  if (--keepAliveCount === 0) {
    clearInterval(keepAliveTimer)
    keepAliveTimer = undefined
  }
}

/**
 * What runs before this thread blocks, on globalThis: a worker thread starts
 * from a bundle (dist/worker/thread_worker.cjs) with its own copy of this
 * module, whose result buffer registers here, while a task's Lock or Event
 * blocks through the package's copy. Both must see the same hooks.
 */
const kBlockingHooks = Symbol.for('multiproc.sync.blockingHooks')
const blockingHooks = ((globalThis as { [kBlockingHooks]?: Set<() => void> })[kBlockingHooks] ??= new Set())

/**
 * Adds what runs before this thread blocks in a sync wait: the worker's task
 * loop sends the results it has buffered, since the caller may be what the
 * blocked task waits for. Each copy of the result buffer adds one hook.
 */
export function onBlocking(hook: () => void): void {
  blockingHooks.add(hook)
}

/** Runs the hooks of `onBlocking` (call it with the mutex released). */
export function aboutToBlock(): void {
  for (const hook of blockingHooks) hook()
}

/**
 * Waits, with the internal mutex held on entry and on return, until `ready()`
 * is true (returns true) or the deadline passes (returns false). Blocking.
 */
export function waitUntilSync(cells: Int32Array, seq: number, ready: () => boolean, deadline: number): boolean {
  while (!ready()) {
    const left = remaining(deadline)
    if (left <= 0) return false
    const s = Atomics.load(cells, seq)
    unlockCells(cells)
    aboutToBlock()
    Atomics.wait(cells, seq, s, left)
    lockCells(cells)
  }
  return true
}

/**
 * The broker runs operations for child processes; when a child goes away,
 * its pending waits must end (else they would keep the parent alive for
 * ever). The broker sets this signal while it starts an operation, and the
 * waits started then take it. Per copy of this module, unlike the hooks
 * above: the broker and the waits it starts are always the package's copy.
 */
let ambientSignal: AbortSignal | undefined

/** Runs `fn` with `signal` as the signal of the waits it starts synchronously. */
export function withSignal<T>(signal: AbortSignal, fn: () => T): T {
  const before = ambientSignal
  ambientSignal = signal
  try {
    return fn()
  } finally {
    ambientSignal = before
  }
}

/** The signal of the operation being started, if the broker started it. */
export function currentSignal(): AbortSignal | undefined {
  return ambientSignal
}

/** `promise`, or a rejection with the signal's reason when `signal` aborts first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  return until(
    (wake) => {
      promise.then(wake, wake)
    },
    Infinity,
    signal,
  ).then((ending) => (ending === 'aborted' ? Promise.reject(signal.reason) : promise))
}

/** What `whenReady` gives: the action's value, or `ok: false` when the deadline passed first. */
export type Outcome<T> = { ok: true; value: T } | { ok: false }

/**
 * The async wait. Takes the mutex itself and never holds it across an
 * `await`: other async code of this same thread (the broker serves every
 * child from the main thread) must be able to take it while this one
 * waits, or the thread would wait for itself. So the work to do once
 * `ready()` holds is `act`, run synchronously under the mutex.
 */
export async function whenReady<T>(cells: Int32Array, seq: number, ready: () => boolean, act: () => T, deadline: number): Promise<Outcome<T>> {
  const signal = ambientSignal
  for (;;) {
    lockCells(cells)
    let s: number
    try {
      if (ready()) return { ok: true, value: act() }
      s = Atomics.load(cells, seq)
    } finally {
      unlockCells(cells)
    }
    const left = remaining(deadline)
    if (left <= 0) return { ok: false }
    // The wait's own timeout is the deadline: no timer per wake-up.
    const result = atomicsWaitAsync(cells, seq, s, left === Infinity ? undefined : left)
    if (result.async) await keepingLoop(abortable(result.value, signal))
  }
}

/** Runs `act` under the mutex. */
export function locked<T>(cells: Int32Array, act: () => T): T {
  lockCells(cells)
  try {
    return act()
  } finally {
    unlockCells(cells)
  }
}

/** A TimeoutError that names the operation. */
export function timedOut(what: string, timeout: number | undefined): TimeoutError {
  return new TimeoutError(`${what} timed out after ${timeout} ms`)
}

/**
 * Who holds an owned primitive (RLock, Condition): a thread of this process
 * is `threadId + 1`; a child process served by the broker is `-pid`.
 */
export function selfOwner(): number {
  return threadIdPlusOne
}

const threadIdPlusOne = threadId + 1

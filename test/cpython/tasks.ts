// Task and target functions of the CPython ports (test/cpython/*.test.ts):
// the module-level helpers and the `_test_*_f` class methods of CPython's
// _test_multiprocessing.py and test_concurrent_futures, as exported
// functions (a worker imports them by module and name).
import type { Barrier, Condition, Event, Lock, Queue, RLock, Semaphore, SharedArray, Value } from '../../src/index.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** CPython's `sqr(x, wait=0.0)`: the wait in milliseconds. */
export async function sqr(x: number, waitMs = 0): Promise<number> {
  if (waitMs > 0) await sleep(waitMs)
  return x * x
}
export function mul(x: number, y: number): number {
  return x * y
}
export function identity<T>(x: T): T {
  return x
}
/** CPython's `raising()`: KeyError("key"); a JavaScript task throws a RangeError. */
export function raising(): never {
  throw new RangeError('key')
}
/** CPython's `raise_large_valuerror(wait)`: a 1 MiB message. */
export async function raiseLargeValueError(waitMs: number): Promise<never> {
  await sleep(waitMs)
  throw new RangeError('x'.repeat(1024 * 1024))
}
/** CPython's `unpickleable_result()`: a function cannot be sent back. */
export function unpickleableResult(): () => number {
  return () => 42
}
/** CPython's `_test_traceback`. */
export function raiseRuntimeError123(): never {
  throw new Error('123')
}
export function pid(): number {
  return process.pid
}
/** CPython's int('a'): a task that fails on bad input. */
export function parseIntStrict(s: string): number {
  const n = Number(s)
  if (!Number.isInteger(n)) throw new TypeError(`invalid literal for int(): '${s}'`)
  return n
}

// --- sync primitives -------------------------------------------------------

/** `_test_lock_locked_2processes`, adapted: the child reports that it holds the lock (see the test file). */
export async function acquireAndReport(lock: Lock | RLock, event: Event, res: Value<any>): Promise<void> {
  res.value = (await lock.acquire()) ? 1 : 0
  event.set()
}

/** `_TestCondition.f`. */
export async function conditionF(cond: Condition, sleeping: Semaphore, woken: Semaphore, timeoutMs?: number): Promise<void> {
  await cond.acquire()
  sleeping.release()
  await cond.wait(timeoutMs === undefined ? undefined : { timeout: timeoutMs })
  woken.release()
  cond.release()
}

/** `_test_waitfor_f`. */
export async function waitforF(cond: Condition, state: Value<any>): Promise<void> {
  await cond.acquire()
  try {
    state.value = 0
    cond.notify()
    const result = await cond.waitFor(() => state.value === 4)
    if (!result || state.value !== 4) process.exitCode = 1
  } finally {
    cond.release()
  }
  if (process.exitCode === 1) throw new Error('waitFor ended before state reached 4')
}

/** `_test_waitfor_timeout_f`. */
export async function waitforTimeoutF(cond: Condition, state: Value<any>, success: Value<any>, sem: Semaphore): Promise<void> {
  sem.release()
  await cond.acquire()
  try {
    const expected = 100
    const t0 = performance.now()
    const result = await cond.waitFor(() => state.value === 4, { timeout: expected })
    const dt = performance.now() - t0
    if (!result && dt >= expected - 100) success.value = 1
  } finally {
    cond.release()
  }
}

/** `_test_wait_result`: notifies once. */
export async function notifyOnce(c: Condition): Promise<void> {
  await c.acquire()
  c.notify()
  c.release()
}

/** `_TestEvent._test_event`. */
export async function setEventLater(event: Event, ms: number): Promise<void> {
  await sleep(ms)
  event.set()
}

/** A counter in shared memory, for CPython's `_DummyList`: append() adds one under the value's lock. */
async function append(counter: Value<any>): Promise<void> {
  const lock = counter.getLock()
  await lock.acquire()
  counter.value = Number(counter.value) + 1
  lock.release()
}

/** `multipass`: reads `parties` in the party (a child process included), then passes the barrier `n` times in lockstep. */
export async function barrierMultipass(barrier: Barrier, r0: Value<any>, r1: Value<any>, n: number, finished: Value<any>): Promise<void> {
  const m = barrier.parties
  if (m !== 5) throw new Error(`parties is ${m}, not 5`)
  for (let i = 0; i < n; i++) {
    await append(r0)
    if (r1.value !== i * m) throw new Error(`pass ${i}: r1 is ${r1.value}, not ${i * m}`)
    await barrier.wait()
    await append(r1)
    if (r0.value !== (i + 1) * m) throw new Error(`pass ${i}: r0 is ${r0.value}, not ${(i + 1) * m}`)
    await barrier.wait()
  }
  await append(finished)
}

/** `_test_wait_return_f`. */
export async function barrierWaitReturn(barrier: Barrier, queue: Queue<number>): Promise<void> {
  await queue.put(await barrier.wait())
}

/** The action of `test_action`: counts its runs. */
export function countAction(): void {
  actionRuns++
}
let actionRuns = 0
/** `_test_action_f`: the action has run exactly once when the barrier opens (it runs where the last party arrives). */
export async function barrierActionF(barrier: Barrier, out: Queue<number>): Promise<void> {
  await barrier.wait()
  await out.put(actionRuns)
}

/** `_test_abort_f`. */
export async function barrierAbortF(barrier: Barrier, results1: Value<any>, results2: Value<any>, half: number): Promise<void> {
  try {
    const i = await barrier.wait()
    if (i === half) {
      barrier.abort()
      return
    }
    await barrier.wait()
    await append(results1)
  } catch (error) {
    if ((error as Error).name !== 'BrokenBarrierError') throw error
    await append(results2)
  }
}

/** `_test_reset_f`: `nWaiting` is read in the parent, so the resetting party waits for a go. */
export async function barrierResetF(barrier: Barrier, results1: Value<any>, results2: Value<any>, results3: Value<any>, half: number, go: Event, arrived: Queue<number>): Promise<void> {
  const i = await barrier.wait()
  if (i === half) {
    await arrived.put(i)
    await go.wait()
    barrier.reset()
  } else {
    try {
      await barrier.wait()
      await append(results1)
    } catch (error) {
      if ((error as Error).name !== 'BrokenBarrierError') throw error
      await append(results2)
    }
  }
  await barrier.wait()
  await append(results3)
}

/** `_test_abort_and_reset_f`. */
export async function barrierAbortAndResetF(
  barrier: Barrier,
  barrier2: Barrier,
  results1: Value<any>,
  results2: Value<any>,
  results3: Value<any>,
  half: number,
): Promise<void> {
  try {
    const i = await barrier.wait()
    if (i === half) throw new Error('RuntimeError')
    await barrier.wait()
    await append(results1)
  } catch (error) {
    if ((error as Error).name === 'BrokenBarrierError') await append(results2)
    else barrier.abort()
  }
  if ((await barrier2.wait()) === half) barrier.reset()
  await barrier2.wait()
  await barrier.wait()
  await append(results3)
}

/** `_test_timeout_f`: one party is late; the others' short wait breaks the barrier. */
export async function barrierTimeoutF(barrier: Barrier, results: Value<any>, half: number, lateMs: number, waitMs: number): Promise<void> {
  const i = await barrier.wait()
  if (i === half) await sleep(lateMs)
  try {
    await barrier.wait({ timeout: waitMs })
  } catch (error) {
    if ((error as Error).name !== 'BrokenBarrierError') throw error
    await append(results)
  }
}

/** `_test_default_timeout_f`. */
export async function barrierDefaultTimeoutF(barrier: Barrier, results: Value<any>, half: number, lateMs: number): Promise<void> {
  const i = await barrier.wait({ timeout: 120_000 })
  if (i === half) await sleep(lateMs)
  try {
    await barrier.wait()
  } catch (error) {
    if ((error as Error).name !== 'BrokenBarrierError') throw error
    await append(results)
  }
}

/** `_test_thousand_f`, with a Queue for the pipe. */
export async function barrierThousandF(barrier: Barrier, passes: number, out: Queue<number>): Promise<void> {
  for (let i = 0; i < passes; i++) {
    await barrier.wait()
    await out.put(i)
  }
}

/** `_TestValue._test`. */
export function setValues(values: Value<any>[], next: (number | bigint)[]): void {
  values.forEach((v, i) => (v.value = next[i]))
}

/** `_TestArray.f`: prefix sums in place. */
export function prefixSums(seq: SharedArray<any>): void {
  for (let i = 1; i < seq.length; i++) seq.set(i, Number(seq.get(i)) + Number(seq.get(i - 1)))
}

/** `_test` of `_TestQueue.test_put`: gets what the parent put, then puts it back. */
export async function queueEcho(parentQ: Queue<number>, childQ: Queue<number>, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await childQ.put(await parentQ.get({ timeout: 30_000 }))
}

/** Puts `items` on the queue. */
export async function putAll<T>(q: Queue<T>, items: T[]): Promise<void> {
  for (const item of items) await q.put(item)
}

/** Which worker runs this: pid and thread id (a thread pool's workers share the pid). */
export async function workerId(_item?: unknown): Promise<string> {
  const { threadId } = await import('node:worker_threads')
  return `${process.pid}:${threadId}`
}

// --- queues ---------------------------------------------------------------

/** `_TestQueue._test_put`: gets six items once allowed. */
export async function queueTestPut(queue: Queue<number>, childCanStart: Event, parentCanContinue: Event): Promise<void> {
  await childCanStart.wait()
  for (let i = 0; i < 6; i++) await queue.get()
  parentCanContinue.set()
}

/** `_TestQueue._test_get`: puts 2..5 once allowed. */
export async function queueTestGet(queue: Queue<number>, childCanStart: Event, parentCanContinue: Event): Promise<void> {
  await childCanStart.wait()
  for (const i of [2, 3, 4, 5]) await queue.put(i)
  parentCanContinue.set()
}

/** `_TestQueue._test_fork`. */
export async function queueTestFork(queue: Queue<number>): Promise<void> {
  for (let i = 10; i < 20; i++) await queue.put(i)
}

/** `_TestQueue._test_task_done`: consumes until null. */
export async function queueTestTaskDone(q: import('../../src/index.js').JoinableQueue<number | null>): Promise<void> {
  for (;;) {
    const obj = await q.get()
    if (obj === null) break
    await sleep(10)
    q.taskDone()
  }
}

/** Reads the queue's maxsize in the worker (a constant: readable in a child process too). */
export async function queueReportMaxsize(q: Queue<number>, out: Queue<number>): Promise<void> {
  await out.put(q.maxsize)
}

/** Reads every read-only property of each primitive in the worker; reports the value or the error's name and message. */
export async function readProperties(lock: Lock, rlock: RLock, sem: Semaphore, event: Event, barrier: Barrier, out: Queue<[string, string]>): Promise<void> {
  const reads: [string, () => unknown][] = [
    ['Barrier.parties', () => barrier.parties],
    ['Barrier.nWaiting', () => barrier.nWaiting],
    ['Barrier.broken', () => barrier.broken],
    ['Lock.locked()', () => lock.locked()],
    ['RLock.locked()', () => rlock.locked()],
    ['Semaphore.getValue()', () => sem.getValue()],
    ['Event.isSet()', () => event.isSet()],
  ]
  for (const [what, read] of reads) {
    try {
      await out.put([what, String(read())])
    } catch (error) {
      await out.put([what, `${(error as Error).name}: ${(error as Error).message}`])
    }
  }
}

/** CPython's `event.wait` task: returns once `event` is set (or after `timeoutMs`). */
export async function blockUntil(event: Event, timeoutMs: number): Promise<boolean> {
  return event.wait({ timeout: timeoutMs })
}

/** `sqr(x)` and which worker computed it. */
export async function sqrAndWorker(x: number): Promise<[number, string]> {
  return [x * x, await workerId()]
}

// A worker thread starts from one bundled file (dist/worker/thread_worker.cjs)
// that copies some library modules; a task that imports multiproc gets the
// package's own. Both copies must agree. Prints one line the packaging test
// compares.
import { Event, ThreadPoolExecutor, registerError, task } from 'multiproc'

const tasks = new URL('./copies_tasks.mjs', import.meta.url)
class QuotaError extends Error {}
registerError(QuotaError)

const ex = new ThreadPoolExecutor({ maxWorkers: 1 })
try {
  await ex.submit(task(tasks, 'quick'), 0).result()
  const event = new Event()
  // freezeClock() gets an Event, so the worker has loaded the codec that
  // revives it before the next tasks (none yields to the event loop). While
  // it keeps the worker busy, quick() and blockUntilSet() arrive: quick()'s
  // result is buffered, then blockUntilSet() blocks its thread on the Event,
  // through the task's own copy of multiproc.
  const frozen = ex.submit(task(tasks, 'freezeClock'), event, 200)
  const quick = ex.submit(task(tasks, 'quick'), 21)
  const blocked = ex.submit(task(tasks, 'blockUntilSet'), event)
  await quick.result()
  event.set()
  const woken = await blocked.result()
  await frozen.result()

  let relayed = 'no error'
  try {
    await ex.submit(task(tasks, 'relayQuota')).result()
  } catch (error) {
    relayed = error instanceof QuotaError ? 'QuotaError' : `${error.constructor.name} (${error.remoteName})`
  }
  console.log(`copies ${woken} ${relayed}`)
} finally {
  await ex.shutdown()
}

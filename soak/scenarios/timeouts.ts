// Soak: 500 tasks that time out. Each spins past its `timeout`, so it is
// running when the timeout fires: its Future must settle with TimeoutError
// and its worker be stopped and replaced. Tasks go in waves of one per
// worker, each wave after every worker is up (a Barrier all of them pass):
// a task that times out while queued behind a booting worker is only
// dropped, which tests nothing. After the last wave every worker must still
// run a task.
//
// This module is also the task module of its workers (spin, ping).
import { Barrier, ProcessPoolExecutor, ThreadPoolExecutor, TimeoutError, wait, type Future, type PoolExecutor } from '../../src/index.js'
import type { SoakRow, SoakScenario } from '../scenario.js'

/** Tasks for the full soak (scale 1). */
const TASKS = 500
const WORKERS = 4
const TIMEOUT_MS = 50
/** How long a task would spin if nothing stopped it: far past its timeout, yet bounded. */
const SPIN_MS = 30_000

/** Spins the CPU for `ms` (a task only a real stop can end early). */
export function spin(ms: number): number {
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) n++
  return n
}

export function ping(): string {
  return 'pong'
}

/** Returns once every worker runs one: all of them are up. */
export async function gate(barrier: Barrier): Promise<void> {
  await barrier.wait({ timeout: 60_000 })
}

async function runTimeouts(make: () => PoolExecutor, scale: number, deadline: number): Promise<SoakRow> {
  const tasks = Math.max(WORKERS, Math.round(TASKS * scale))
  const executor = make()
  const row: SoakRow = { tried: tasks, lost: 0, duplicated: 0, hung: 0, wrong: 0 }
  const left = (): number => Math.max(0, deadline - Date.now())
  let stuck = false
  try {
    for (let sent = 0; sent < tasks; ) {
      const barrier = new Barrier(WORKERS)
      const up = await wait(
        Array.from({ length: WORKERS }, () => executor.submit(gate, barrier)),
        { timeout: left() },
      )
      if (up.notDone.size > 0) {
        stuck = true
        row.hung = tasks - sent
        row.pending = `${up.notDone.size} of ${WORKERS} workers did not come up before task #${sent}; ${tasks - sent} not sent`
        return row
      }
      const wave: Future<number>[] = []
      for (let i = 0; i < WORKERS && sent < tasks; i++, sent++) wave.push(executor.submitWith({ timeout: TIMEOUT_MS }, spin, SPIN_MS))
      // Every settled Future counts once; a second settlement would throw InvalidStateError in the Future itself.
      const { done, notDone } = await wait(wave, { timeout: left() })
      for (const [o] of await Promise.all([...done].map((f) => Promise.allSettled([f])))) {
        if (o!.status !== 'rejected' || !(o!.reason instanceof TimeoutError)) row.wrong++
      }
      if (notDone.size > 0) {
        stuck = true
        row.hung = notDone.size + (tasks - sent)
        row.pending = `${notDone.size} timed-out task(s) of the wave ending at #${sent} never settled; ${tasks - sent} not sent`
        return row
      }
    }
    // The replacements work: one quick task per worker.
    const after = Array.from({ length: WORKERS }, () => executor.submit(ping))
    const { done, notDone } = await wait(after, { timeout: left() })
    for (const [o] of await Promise.all([...done].map((f) => Promise.allSettled([f])))) {
      if (o!.status !== 'fulfilled' || o!.value !== 'pong') row.wrong++
    }
    if (notDone.size > 0) {
      stuck = true
      row.hung += notDone.size
      row.pending = `${notDone.size} task(s) after the timeouts never ran: workers were not replaced`
    }
  } finally {
    await executor.shutdown({ wait: !stuck, cancelFutures: true })
  }
  return row
}

export const scenarios: SoakScenario[] = [
  {
    name: '500 tasks time out (workers replaced)',
    backend: 'thread',
    run: ({ scale, deadline }) => runTimeouts(() => new ThreadPoolExecutor({ maxWorkers: WORKERS }), scale, deadline),
  },
  {
    name: '500 tasks time out (workers replaced)',
    backend: 'process',
    run: ({ scale, deadline }) => runTimeouts(() => new ProcessPoolExecutor({ maxWorkers: WORKERS }), scale, deadline),
  },
]

// Executor.submit under crashes: 10,000 tasks, 5 % of them kill their worker
// (exit, a throw in a timer, out of memory, SIGKILL), half of those only on
// their first run (they have retries), and on processes a killer sends
// `kill -9` to random workers from outside (every other task has retries).
// Each Future must settle once, with its value, or WorkerCrashedError for
// the tasks that always crash.
import { NatsExecutor, ProcessPoolExecutor, ThreadPoolExecutor, WorkerCrashedError } from '../../src/index.js'
import { join } from 'node:path'
import type { SoakRow, SoakScenario } from '../scenario.js'
import { expected, soakItem, type SoakItem } from '../crash_tasks.js'
import { SOAK_LIMITS, bounded, count, crashItems, killChildrenPeriodically, sample, startCluster, tempDir, untilDeadline } from '../soak_support.js'

type AnyExecutor = ThreadPoolExecutor | ProcessPoolExecutor | NatsExecutor

async function submitUnderCrashes(backend: string, scale: number, deadline: number, create: () => AnyExecutor): Promise<SoakRow> {
  const n = count(scale, 10_000, 200)
  const tmp = tempDir()
  // Every other crashing item crashes on each run (it must fail), the rest only once (a retry succeeds).
  const items = crashItems(n, backend, tmp.dir, true).map((item, i) => (item.crash !== undefined && Math.floor(i / 20) % 2 === 1 ? { x: item.x, crash: item.crash, pids: item.pids } : item))
  const ex = create()
  const killer = backend === 'process' ? killChildrenPeriodically(1500, Math.ceil(n / 100), join(tmp.dir, 'pids')) : null
  const seen = new Uint8Array(n)
  let settled = 0
  let duplicated = 0
  let wrong = 0
  const wrongs: string[] = []
  let allSettled!: () => void
  const done = new Promise<void>((resolve) => (allSettled = resolve))
  // At the deadline the count stops: what the cleanup settles (cancels) afterwards is hung, not wrong.
  let frozen = false
  const check = (item: SoakItem, outcome: { value: unknown } | { error: unknown }): void => {
    if (frozen) return
    if (seen[item.x]++ > 0) {
      duplicated++
      return
    }
    settled++
    const alwaysCrashes = item.crash !== undefined && item.once === undefined
    const ok = alwaysCrashes ? 'error' in outcome && outcome.error instanceof WorkerCrashedError : 'value' in outcome && outcome.value === expected(item.x)
    if (!ok) {
      wrong++
      if (wrongs.length < 5) wrongs.push(`#${item.x} ${item.crash ?? ''}: ${'value' in outcome ? `value ${String(outcome.value)}` : String(outcome.error).slice(0, 200)}`)
    }
    if (settled === n) allSettled()
  }
  try {
    for (const item of items) {
      const alwaysCrashes = item.crash !== undefined && item.once === undefined
      ex.submitWith({ retries: alwaysCrashes ? 0 : 3 }, soakItem, item).then(
        (value) => check(item, { value }),
        (error: unknown) => check(item, { error }),
      )
    }
    const d = untilDeadline(deadline)
    await Promise.race([done, d.promise])
    d.cancel()
  } finally {
    frozen = true
    killer?.stop()
    await bounded(ex.terminateWorkers())
    tmp.remove()
  }
  const unsettled: number[] = []
  for (let i = 0; i < n; i++) if (seen[i] === 0) unsettled.push(i)
  const pending = [
    unsettled.length > 0 ? `unsettled at the deadline: tasks ${sample(unsettled)}` : '',
    wrongs.length > 0 ? `wrong: ${wrongs.join('; ')}` : '',
    killer !== null ? `${killer.kills()} workers killed from outside` : '',
  ].filter(Boolean)
  return { tried: n, lost: 0, duplicated, hung: unsettled.length, wrong, ...(pending.length > 0 ? { pending: pending.join('; ') } : {}) }
}

export const scenarios: SoakScenario[] = [
  {
    name: 'executor.submit crashes',
    backend: 'thread',
    run: ({ scale, deadline }) => submitUnderCrashes('thread', scale, deadline, () => new ThreadPoolExecutor({ maxWorkers: 2, resourceLimits: SOAK_LIMITS })),
  },
  {
    name: 'executor.submit crashes + kill -9',
    backend: 'process',
    run: ({ scale, deadline }) => submitUnderCrashes('process', scale, deadline, () => new ProcessPoolExecutor({ maxWorkers: 2 })),
  },
  {
    name: 'executor.submit crashes',
    backend: 'nats',
    needsNats: true,
    run: async ({ scale, deadline }) => {
      const cluster = await startCluster()
      try {
        return await submitUnderCrashes('nats', scale, deadline, () => new NatsExecutor({ servers: cluster.url, maxWorkers: 4 }))
      } finally {
        await bounded(cluster.stop())
      }
    },
  },
]

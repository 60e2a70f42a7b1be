// Pool.map / Pool.imap in chunks under crashes: 10,000 items, 5 % kill their
// worker on their first run (exit, a throw in a timer, out of memory,
// SIGKILL), `retries` per item; on processes a killer also sends `kill -9`
// to random workers from outside. Every item's value must arrive once, in
// order. And executor.map in chunks without retries: it must yield exactly
// the values before the crashing item, then its WorkerCrashedError.
import { Pool, ProcessPoolExecutor, ThreadPoolExecutor, WorkerCrashedError, getContext, type Context, type Executor } from '../../src/index.js'
import { join } from 'node:path'
import type { SoakRow, SoakScenario } from '../scenario.js'
import { expected, soakItem, type SoakItem } from '../crash_tasks.js'
import { bounded, count, crashItems, killChildrenPeriodically, sample, startCluster, tempDir, untilDeadline, CRASHES, SOAK_LIMITS } from '../soak_support.js'

type Mode = 'imap' | 'map'

/** Compares what arrived, in order, with the expected values of items 0..n-1. */
function score(n: number, got: unknown[], ended: 'done' | 'deadline' | { error: unknown }): SoakRow {
  let wrong = 0
  const wrongAt: number[] = []
  for (let i = 0; i < Math.min(n, got.length); i++) {
    if (got[i] !== expected(i)) {
      wrong++
      wrongAt.push(i)
    }
  }
  const duplicated = Math.max(0, got.length - n)
  const missing = Math.max(0, n - got.length)
  const notes: string[] = []
  if (wrongAt.length > 0) notes.push(`wrong values at items ${sample(wrongAt)}`)
  if (ended === 'deadline') notes.push(`still iterating at the deadline after ${got.length} of ${n} items`)
  else if (typeof ended === 'object') notes.push(`the iteration failed after ${got.length} items: ${String(ended.error).slice(0, 300)}`)
  else if (missing > 0) notes.push(`the iteration ended after ${got.length} of ${n} items`)
  return {
    tried: n,
    lost: ended === 'deadline' ? 0 : missing,
    duplicated,
    hung: ended === 'deadline' ? missing : 0,
    wrong: wrong + (typeof ended === 'object' ? 1 : 0),
    ...(notes.length > 0 ? { pending: notes.join('; ') } : {}),
  }
}

async function poolUnderCrashes(backend: string, mode: Mode, scale: number, deadline: number, context: Context): Promise<SoakRow> {
  const n = count(scale, 10_000, 400)
  const tmp = tempDir()
  // A Pool takes no resourceLimits: no out-of-memory crash here (the executor scenarios have it).
  const items = crashItems(n, backend, tmp.dir, true, CRASHES[backend]!.filter((c) => c !== 'oom'))
  const pool = new Pool({ processes: backend === 'nats' ? 4 : 2, retries: 3, context })
  const killer = backend === 'process' ? killChildrenPeriodically(1500, Math.ceil(n / 100), join(tmp.dir, 'pids')) : null
  const got: unknown[] = []
  let ended: 'done' | 'deadline' | { error: unknown } = 'done'
  const work = (async (): Promise<void> => {
    if (mode === 'imap') {
      for await (const value of pool.imap(soakItem, items, { chunksize: 50 })) got.push(value)
    } else {
      for (const value of await pool.map(soakItem, items, { chunksize: 50 })) got.push(value)
    }
  })()
  const d = untilDeadline(deadline)
  try {
    const outcome = await Promise.race([work.then(() => 'done' as const, (error: unknown) => ({ error })), d.promise])
    ended = outcome
  } finally {
    d.cancel()
    killer?.stop()
    await bounded(pool.terminate())
    tmp.remove()
  }
  const row = score(n, got, ended)
  if (killer !== null) row.pending = [row.pending, `${killer.kills()} workers killed from outside`].filter(Boolean).join('; ')
  return row
}

/**
 * Rounds of executor.map over 100 items in chunks of 10, with no retries
 * and one item that always crashes its worker: exactly the values before
 * it must arrive, then its WorkerCrashedError.
 */
async function mapStopsAtCrash(backend: string, scale: number, deadline: number, create: () => Executor): Promise<SoakRow> {
  const rounds = count(scale, 100, 4)
  const kinds = CRASHES[backend]!
  const ex = create()
  const row: SoakRow = { tried: rounds * 100, lost: 0, duplicated: 0, hung: 0, wrong: 0 }
  const notes: string[] = []
  try {
    for (let round = 0; round < rounds; round++) {
      const at = (round * 37 + 11) % 100
      const items: SoakItem[] = Array.from({ length: 100 }, (_, x) => (x === at ? { x, crash: kinds[round % kinds.length]! } : { x }))
      const got: number[] = []
      let error: unknown = null
      const work = (async () => {
        for await (const v of ex.map(soakItem, items, { chunksize: 10 })) got.push(v)
      })().catch((e: unknown) => (error = e))
      if ((await Promise.race([work.then(() => 'done'), untilDeadline(deadline).promise])) === 'deadline') {
        row.hung += 100 - got.length
        notes.push(`round ${round}: still iterating at the deadline after ${got.length} values (crash at ${at})`)
        break
      }
      for (let i = 0; i < Math.min(got.length, at); i++) if (got[i] !== expected(i)) row.wrong++
      row.lost += Math.max(0, at - got.length)
      row.duplicated += Math.max(0, got.length - at)
      if (!(error instanceof WorkerCrashedError)) {
        row.wrong++
        if (notes.length < 5) notes.push(`round ${round}: ended with ${String(error).slice(0, 200)} after ${got.length} values (crash at ${at})`)
      }
    }
  } finally {
    await bounded((ex as ThreadPoolExecutor).terminateWorkers())
  }
  if (notes.length > 0) row.pending = notes.join('; ')
  return row
}

const local = (backend: 'thread' | 'process'): SoakScenario[] => [
  {
    name: 'Pool.imap chunks retries',
    backend,
    run: ({ scale, deadline }) => poolUnderCrashes(backend, 'imap', scale, deadline, getContext(backend)),
  },
  {
    name: 'Pool.map chunks retries',
    backend,
    run: ({ scale, deadline }) => poolUnderCrashes(backend, 'map', scale, deadline, getContext(backend)),
  },
  {
    name: 'executor.map chunks stops at crash',
    backend,
    run: ({ scale, deadline }) =>
      mapStopsAtCrash(backend, scale, deadline, () =>
        backend === 'thread' ? new ThreadPoolExecutor({ maxWorkers: 2, resourceLimits: SOAK_LIMITS }) : new ProcessPoolExecutor({ maxWorkers: 2 }),
      ),
  },
]

export const scenarios: SoakScenario[] = [
  ...local('thread'),
  ...local('process'),
  {
    name: 'Pool.imap chunks retries',
    backend: 'nats',
    needsNats: true,
    run: async ({ scale, deadline }) => {
      const cluster = await startCluster()
      try {
        return await poolUnderCrashes('nats', 'imap', scale, deadline, getContext('nats', { servers: cluster.url }))
      } finally {
        await bounded(cluster.stop())
      }
    },
  },
]

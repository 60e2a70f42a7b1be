// A pool whose stats are printed every second while it runs: tasks by
// outcome, p50/p99 run and wait times, and how busy each worker was in that
// second. A few tasks fail on purpose, to be counted.
//
//   node --import tsx examples/pool_stats.ts [tasks=400]
import { Pool, type ExecutorStats } from '../src/index.js'
import { spinFor } from './pool_tasks.js'

const tasks = Number(process.argv[2] ?? 400)
const ms = (x: number): string => `${x.toFixed(1)} ms`

function line(s: ExecutorStats): string {
  const busy = s.perWorker.map((w) => `${Math.round(w.busy * 100)}%`).join(' ')
  return (
    `${s.succeeded + s.failed}/${s.submitted} done (${s.failed} failed), ${s.queued} queued, ${s.running} running | ` +
    `run p50 ${ms(s.runTime.p50)} p99 ${ms(s.runTime.p99)} | wait p99 ${ms(s.waitTime.p99)} | workers busy ${busy}`
  )
}

await using pool = new Pool({ processes: 2 })
const timer = setInterval(() => console.log(line(pool.stats())), 1000)
// Each task spins 5 to 35 ms; every 50th throws.
const results = await Promise.allSettled(Array.from({ length: tasks }, (_, i) => pool.apply(spinFor, [5 + (i % 7) * 5, i % 50 === 49])))
clearInterval(timer)
const s = pool.stats()
console.log(line(s))
console.log(`finished: ${results.filter((r) => r.status === 'fulfilled').length} succeeded, ${results.filter((r) => r.status === 'rejected').length} failed`)
console.log(`run time histogram (ms ≤ bound: tasks): ${s.runTime.buckets.map((b) => `${b.le}: ${b.count}`).join(', ')}`)

/**
 * Dispatch alone, as one whole process, for comparing two builds side by
 * side with an outside timer (`/usr/bin/time -v`, hyperfine):
 *
 *   node .bench-out/bench/dispatch.js burst|inflight64 [rounds]
 *
 * A warm pool of 2 thread workers, then `rounds` times 100k no-op tasks,
 * submitted at once (burst) or at most 64 in flight (inflight64), as the
 * cases of the same names in measure.ts. Prints tasks/s per round.
 */
import { ThreadPoolExecutor } from '../src/index.js'
import { noop } from './tasks.js'
import { windowed } from './windowed.js'

const mode = process.argv[2] ?? 'burst'
const rounds = Number(process.argv[3] ?? 3)
if (mode !== 'burst' && mode !== 'inflight64') {
  console.error('usage: dispatch.js burst|inflight64 [rounds]')
  process.exit(2)
}
const n = 100_000
const ex = new ThreadPoolExecutor({ maxWorkers: 2 })
for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: 200 }, () => ex.submit(noop)))
for (let round = 0; round < rounds; round++) {
  const start = performance.now()
  if (mode === 'burst') {
    const pending = new Array<PromiseLike<unknown>>(n)
    for (let i = 0; i < n; i++) pending[i] = ex.submit(noop)
    await Promise.all(pending)
  } else {
    await windowed(n, 64, () => ex.submit(noop))
  }
  console.log(`${mode} ${Math.round(n / ((performance.now() - start) / 1000))} tasks/s`)
}
await ex.shutdown()

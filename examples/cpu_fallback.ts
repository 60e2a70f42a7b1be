// Seed 002: use every CPU but one for workers, and run inline when there is only one.
//
//   node --import tsx examples/cpu_fallback.ts
//   MULTIPROC_CPU_COUNT=1 node --import tsx examples/cpu_fallback.ts   # the one-CPU path
//
// cpuCount() honours container quotas and MULTIPROC_CPU_COUNT, so the same
// program picks the right executor on a laptop, in a 1-CPU container and on
// a big server. Both executors have the same interface: the code after the
// choice does not care which one it got.
import { InlineExecutor, ThreadPoolExecutor, cpuCount, type Executor } from '../src/index.js'
import { sumOfSquares, whereAmI } from './futures_tasks.js'

const cpus = cpuCount()
let executor: Executor
if (cpus === 1) {
  executor = new InlineExecutor()
  console.log(`cpuCount() = 1: InlineExecutor, tasks run one by one in this thread`)
} else {
  executor = new ThreadPoolExecutor({ maxWorkers: cpus - 1 })
  console.log(`cpuCount() = ${cpus}: ThreadPoolExecutor with ${cpus - 1} worker${cpus === 2 ? '' : 's'}, one CPU left for this thread`)
}

const N = 100_000
const PARTS = 8
try {
  const parts = Array.from({ length: PARTS }, (_, i) => executor.submit(sumOfSquares, (i * N) / PARTS, ((i + 1) * N) / PARTS))
  const places = await Promise.all(Array.from({ length: PARTS }, () => executor.submit(whereAmI)))
  let total = 0
  for (const part of parts) total += await part
  const expected = ((N - 1) * N * (2 * N - 1)) / 6
  console.log(`sum of squares below ${N} in ${PARTS} parts: ${total} (${total === expected ? 'correct' : `WRONG, expected ${expected}`})`)
  console.log(`tasks ran on: ${[...new Set(places.map((p) => p.replace(/\d+$/, 'N')))].join(', ')}`)
} finally {
  await executor.shutdown()
}

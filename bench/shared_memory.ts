// A 64 MiB Float64Array summed by 2 workers: in place through a SharedMemory
// block (nothing copied), against the copying path (each worker gets its
// half as a copy), on threads and on child processes.
//
//   node --import tsx bench/shared_memory.ts [MiB=64] [rounds=5]
//
// The same run measures the fallback (MULTIPROC_NO_NATIVE=1: SharedArrayBuffer,
// threads only) in a second process of itself.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ProcessPoolExecutor, SharedMemory, ThreadPoolExecutor, type PoolExecutor } from '../src/index.js'
import { noop, sumCopy, sumShared } from './shm_tasks.js'

const MIB = Number(process.argv[2] ?? 64)
const ROUNDS = Number(process.argv[3] ?? 5)
const N = (MIB * 1024 * 1024) / 8
const child = process.env.SHM_BENCH_CHILD === '1'

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

async function time(fn: () => Promise<number>, expected: number): Promise<number> {
  const samples: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now()
    const sum = await fn()
    samples.push(performance.now() - start)
    if (sum !== expected) throw new Error(`wrong sum ${sum}, expected ${expected}`)
  }
  return median(samples)
}

async function run(): Promise<Record<string, number>> {
  const shm = new SharedMemory({ create: true, size: N * 8 })
  const xs = shm.view(Float64Array)
  for (let i = 0; i < N; i++) xs[i] = i % 1000
  // A plain (unshared) copy for the copying path, and the expected sum.
  const plain = new Float64Array(N)
  plain.set(xs)
  let expected = 0
  for (let i = 0; i < N; i++) expected += xs[i]!
  const half = N / 2
  const out: Record<string, number> = {}
  out['main thread alone, ms'] = await time(async () => {
    let s = 0
    for (let i = 0; i < N; i++) s += xs[i]!
    return s
  }, expected)

  const backends: [string, () => PoolExecutor][] = [['thread', () => new ThreadPoolExecutor({ maxWorkers: 2 })]]
  if (SharedMemory.backend === 'posix') backends.push(['process', () => new ProcessPoolExecutor({ maxWorkers: 2 })])
  for (const [name, make] of backends) {
    const ex = make()
    await Promise.all([ex.submit(noop), ex.submit(noop), ex.submit(noop), ex.submit(noop)])
    const shared = await time(async () => {
      const [a, b] = await Promise.all([ex.submit(sumShared, shm, 0, half), ex.submit(sumShared, shm, half, N)])
      return a + b
    }, expected)
    const copied = await time(async () => {
      // Each worker receives its half as a copy (structured clone / IPC).
      const [a, b] = await Promise.all([ex.submit(sumCopy, plain.slice(0, half)), ex.submit(sumCopy, plain.slice(half))])
      return a + b
    }, expected)
    out[`${name}: shared in place, ms`] = shared
    out[`${name}: copied halves, ms`] = copied
    out[`${name}: copy / shared`] = copied / shared
    await ex.shutdown()
  }
  shm.close()
  shm.unlink()
  return out
}

const results = await run()
if (child) {
  console.log(JSON.stringify(results))
} else {
  console.log(`SharedMemory: ${MIB} MiB Float64Array summed by 2 workers, median of ${ROUNDS} (${SharedMemory.backend})`)
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(36)} ${v.toFixed(k.includes('/') ? 1 : 1)}`)
  const fallback = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), String(MIB), String(ROUNDS)], {
    env: { ...process.env, MULTIPROC_NO_NATIVE: '1', SHM_BENCH_CHILD: '1' },
    encoding: 'utf8',
  })
  if (fallback.status === 0) {
    console.log('Fallback without the addon (SharedArrayBuffer; child processes refused):')
    for (const [k, v] of Object.entries(JSON.parse(fallback.stdout.trim().split('\n').pop()!) as Record<string, number>)) console.log(`  ${k.padEnd(36)} ${v.toFixed(1)}`)
  } else console.log(`fallback run failed: ${fallback.stderr}`)
}

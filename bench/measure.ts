/**
 * One measurement of one library on one case. bench/child.ts runs each in a
 * fresh process (so one library's JIT and GC state cannot skew another's);
 * the smoke test calls it in-process with tiny sizes.
 *
 * Every measurement starts its pool and warms it before the clock starts,
 * except `cold`, which times exactly the start.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { Tinypool } from 'tinypool'
import workerpool from 'workerpool'
import { FixedThreadPool } from 'poolifier'
import { Pool, ProcessPoolExecutor, ThreadPoolExecutor } from '../src/index.js'
import { RawPool } from './raw_pool.js'
import { windowed } from './windowed.js'
import { ensureParallel, shellCommand, workDir, type LineTask, type ShellLib } from './shell_peers.js'
import { double, noop, piChunk, scale, scaleShared, sleep } from './tasks.js'
import { scaleMoved } from './moved_tasks.js'
import { clusterFailover } from './cluster_failover.js'
import { cluster, type ClusterLib } from './cluster.js'
import { MAIN_JOB_LINES, mainJob, type MainJobLib } from './main_job.js'

export const WORKERS = 2

/** The bench/ folder of the sources, also when this file runs compiled from .bench-out/. */
const here = fileURLToPath(new URL('.', import.meta.url))
export const benchDir = /[\\/]\.bench-out[\\/]bench[\\/]?$/.test(here) ? join(here, '..', '..', 'bench') : here
const workerFile = (name: string): URL => pathToFileURL(join(benchDir, 'workers', name))

export interface Measurement {
  value: number
  unit: string
  extra?: Record<string, unknown>
}

/** Problem sizes: `full` is the issue's, `quick` a shorter run, `smoke` only proves the code works. */
export type Size = 'full' | 'quick' | 'smoke'

export const SIZES = {
  burst: { full: 100_000, quick: 30_000, smoke: 200 },
  inflight: { full: 100_000, quick: 30_000, smoke: 200 },
  rtt: { full: 3_000, quick: 1_000, smoke: 20 },
  map: { full: 1_000_000, quick: 300_000, smoke: 1_000 },
  pi: { full: 2e8, quick: 5e7, smoke: 64_000 },
  process: { full: 20_000, quick: 5_000, smoke: 100 },
  // smoke: 1 MiB, so that the shared path's copy check (the main thread's ArrayBuffer memory grew by more than half
  // the array) is not set off by a new 8 KiB slab of Node's Buffer pool, which a Buffer of the test reporter can take.
  f64: { full: 8 * 1024 * 1024, quick: 4 * 1024 * 1024, smoke: 128 * 1024 },
  imap: { full: 1_000_000, quick: 300_000, smoke: 1_000 },
  maxqueue: { full: 1_000_000, quick: 300_000, smoke: 1_000 },
  cliTrivial: { full: 500_000, quick: 200_000, smoke: 2_000 },
  cliCpu: { full: 100_000, quick: 30_000, smoke: 500 },
  /** Kills of a worker process per measurement. */
  failover: { full: 7, quick: 5, smoke: 1 },
  lanes: { full: 10_000, quick: 3_000, smoke: 200 },
  cluster: { full: { items: 100_000, samples: 500, mib: 100 }, quick: { items: 30_000, samples: 200, mib: 20 }, smoke: { items: 500, samples: 5, mib: 2 } },
} as const

/** The `lanes` case: tasks each worker runs at once, and how long each task awaits its timer. */
export const LANES = 64
export const LANES_SLEEP_MS = 5
export const LANES_LIBS = ['multiproc', 'piscina'] as const

/**
 * n I/O-bound tasks (each awaits a LANES_SLEEP_MS timer) submitted at once
 * to 2 workers that run LANES of them at once each (multiproc's and
 * piscina's `concurrentTasksPerWorker`); tasks/s. The floor is the timers
 * themselves: 2 × LANES tasks every LANES_SLEEP_MS.
 */
async function lanes(lib: (typeof LANES_LIBS)[number], n: number): Promise<Measurement> {
  let run: () => PromiseLike<unknown>
  let close: () => Promise<unknown>
  if (lib === 'multiproc') {
    const ex = new ThreadPoolExecutor({ maxWorkers: WORKERS, concurrentTasksPerWorker: LANES })
    run = () => ex.submit(sleep, LANES_SLEEP_MS)
    close = () => ex.shutdown()
  } else {
    const pool = new Piscina({ filename: workerFile('sleep.mjs').href, minThreads: WORKERS, maxThreads: WORKERS, concurrentTasksPerWorker: LANES })
    run = () => pool.run(LANES_SLEEP_MS)
    close = () => pool.destroy()
  }
  try {
    for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: 2 * WORKERS * LANES }, () => run()))
    const start = performance.now()
    const pending = new Array<PromiseLike<unknown>>(n)
    for (let i = 0; i < n; i++) pending[i] = run()
    await Promise.all(pending)
    const ms = performance.now() - start
    return { value: n / (ms / 1000), unit: 'tasks/s', extra: { floorShare: (n * LANES_SLEEP_MS) / (WORKERS * LANES) / ms } }
  } finally {
    await close()
  }
}

/** A pool of 2 workers that runs the no-op task, in each library's own way. */
interface NoopPool {
  /** Resolves once the pool's workers are up (where the library says so). */
  ready?(): Promise<unknown>
  run(): PromiseLike<unknown>
  close(): Promise<unknown>
}

export const NOOP_LIBS = ['multiproc', 'piscina', 'tinypool', 'workerpool', 'poolifier', 'raw'] as const
export type NoopLib = (typeof NOOP_LIBS)[number]

function noopPool(lib: NoopLib, workers = WORKERS): NoopPool {
  switch (lib) {
    case 'multiproc': {
      const ex = new ThreadPoolExecutor({ maxWorkers: workers })
      return { run: () => ex.submit(noop), close: () => ex.shutdown() }
    }
    case 'piscina': {
      const pool = new Piscina({ filename: workerFile('task.mjs').href, minThreads: workers, maxThreads: workers })
      return { run: () => pool.run(null), close: () => pool.destroy() }
    }
    case 'tinypool': {
      const pool = new Tinypool({ filename: workerFile('task.mjs').href, minThreads: workers, maxThreads: workers })
      return { run: () => pool.run(null), close: () => pool.destroy() }
    }
    case 'workerpool': {
      const pool = workerpool.pool(fileURLToPath(workerFile('workerpool.mjs')), { minWorkers: workers, maxWorkers: workers, workerType: 'thread' })
      return { run: () => pool.exec('noop', []) as PromiseLike<unknown>, close: () => pool.terminate() as PromiseLike<unknown> as Promise<unknown> }
    }
    case 'poolifier': {
      const pool = new FixedThreadPool(workers, fileURLToPath(workerFile('poolifier.mjs')))
      // A task sent before poolifier's workers are ready may never settle (seen on 5.3).
      const ready = (): Promise<unknown> => (pool.info.ready ? Promise.resolve() : new Promise((resolve) => pool.emitter!.once('ready', resolve)))
      // destroy() sometimes never settles (seen on 5.3): stop the threads after a grace period.
      const close = (): Promise<unknown> => {
        const workers = pool.workerNodes.map((node) => node.worker)
        let timer: NodeJS.Timeout | undefined
        const fallback = new Promise((resolve) => {
          timer = setTimeout(() => resolve(Promise.all(workers.map((w) => w.terminate()))), 2000)
        })
        return Promise.race([pool.destroy(), fallback]).finally(() => clearTimeout(timer))
      }
      return { ready, run: () => pool.execute(), close }
    }
    case 'raw': {
      const pool = new RawPool(workerFile('raw.mjs'), workers)
      return { run: () => pool.run(), close: () => pool.close() }
    }
  }
}

async function warm(pool: NoopPool): Promise<void> {
  await pool.ready?.()
  for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: 200 }, () => pool.run()))
}

/** n tasks submitted at once; tasks/s until the last one settles. */
async function burst(lib: NoopLib, n: number): Promise<Measurement> {
  const pool = noopPool(lib)
  try {
    await warm(pool)
    const start = performance.now()
    const pending = new Array<PromiseLike<unknown>>(n)
    for (let i = 0; i < n; i++) pending[i] = pool.run()
    await Promise.all(pending)
    return { value: n / ((performance.now() - start) / 1000), unit: 'tasks/s' }
  } finally {
    await pool.close()
  }
}

/** n tasks, at most `window` in flight (a new one as each settles); tasks/s. */
async function inflight(lib: NoopLib, n: number, window = 64): Promise<Measurement> {
  const pool = noopPool(lib)
  try {
    await warm(pool)
    const start = performance.now()
    await windowed(n, window, () => pool.run())
    return { value: n / ((performance.now() - start) / 1000), unit: 'tasks/s' }
  } finally {
    await pool.close()
  }
}

/** One task at a time on a warm, otherwise idle pool; median round trip in µs. */
async function rtt(lib: NoopLib, n: number): Promise<Measurement> {
  const pool = noopPool(lib)
  try {
    await warm(pool)
    for (let i = 0; i < 200; i++) await pool.run()
    const samples = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const start = performance.now()
      await pool.run()
      samples[i] = (performance.now() - start) * 1000
    }
    return { value: median(samples), unit: 'µs', extra: { p90: quantile(samples, 0.9) } }
  } finally {
    await pool.close()
  }
}

/** Time from `new` to the first result of a fresh pool of one worker, in ms. */
async function cold(lib: NoopLib): Promise<Measurement> {
  if (lib === 'raw') {
    // The floor: a Worker started and answering one message.
    const start = performance.now()
    const w = new Worker(workerFile('raw.mjs'))
    await new Promise((resolve) => {
      w.once('message', resolve)
      w.postMessage(0)
    })
    const ms = performance.now() - start
    await w.terminate()
    return { value: ms, unit: 'ms' }
  }
  const start = performance.now()
  const pool = noopPool(lib, 1)
  await pool.ready?.()
  await pool.run()
  const ms = performance.now() - start
  await pool.close()
  return { value: ms, unit: 'ms' }
}

/** Pool.map over n tiny items with the default chunksize; items/s. */
async function map(n: number): Promise<Measurement> {
  const pool = new Pool({ processes: WORKERS })
  try {
    await pool.map(double, Array.from({ length: 1000 }, (_, i) => i))
    const items = Array.from({ length: n }, (_, i) => i)
    const start = performance.now()
    const out = await pool.map(double, items)
    const ms = performance.now() - start
    if (out.length !== n || out[n - 1] !== 2 * (n - 1)) throw new Error('map returned a wrong result')
    return { value: n / (ms / 1000), unit: 'items/s' }
  } finally {
    await pool.close()
    await pool.join()
  }
}

export const PI_LIBS = ['main thread', '1 worker', '2 workers'] as const

/** π by the midpoint rule over `intervals` in 64 chunks; ms. */
async function pi(lib: (typeof PI_LIBS)[number], intervals: number): Promise<Measurement> {
  const chunks = 64
  const step = Math.ceil(intervals / chunks)
  const bounds = Array.from({ length: chunks }, (_, i) => [i * step, Math.min(intervals, (i + 1) * step)] as const)
  const check = (sum: number): void => {
    if (Math.abs(sum - Math.PI) > 1e-6) throw new Error(`pi came out as ${sum}`)
  }
  if (lib === 'main thread') {
    piChunk(0, 100_000, intervals) // warm the function up, as the workers' warm-up does
    const start = performance.now()
    let sum = 0
    for (const [from, to] of bounds) sum += piChunk(from, to, intervals)
    const ms = performance.now() - start
    check(sum)
    return { value: ms, unit: 'ms' }
  }
  const workers = lib === '1 worker' ? 1 : 2
  const ex = new ThreadPoolExecutor({ maxWorkers: workers })
  try {
    await Promise.all(Array.from({ length: workers }, () => ex.submit(piChunk, 0, 100_000, intervals)))
    const start = performance.now()
    const parts = await Promise.all(bounds.map(([from, to]) => ex.submit(piChunk, from, to, intervals)))
    const ms = performance.now() - start
    check(parts.reduce((a, b) => a + b, 0))
    return { value: ms, unit: 'ms' }
  } finally {
    await ex.shutdown()
  }
}

/** The process backend: n no-op tasks submitted at once; tasks/s. */
async function processNoop(n: number): Promise<Measurement> {
  const ex = new ProcessPoolExecutor({ maxWorkers: WORKERS })
  try {
    await Promise.all(Array.from({ length: 100 }, () => ex.submit(noop)))
    const start = performance.now()
    const pending = new Array<PromiseLike<unknown>>(n)
    for (let i = 0; i < n; i++) pending[i] = ex.submit(noop)
    await Promise.all(pending)
    return { value: n / ((performance.now() - start) / 1000), unit: 'tasks/s' }
  } finally {
    await ex.shutdown()
  }
}

export const F64_LIBS = ['compute', 'transfer', 'raw transfer', 'shared', 'copy'] as const

/**
 * A Float64Array of `length` items through `scale`: in the caller
 * (compute), moved to a worker and back (transfer; raw transfer: a bare
 * worker that does the same, the floor), on a SharedArrayBuffer (shared),
 * or copied both ways (copy). Median ms of 6.
 */
async function f64(lib: (typeof F64_LIBS)[number], length: number): Promise<Measurement> {
  const fill = (a: Float64Array): void => {
    for (let i = 0; i < a.length; i++) a[i] = i
  }
  const expect = (a: Float64Array): void => {
    const i = a.length - 1
    if (a[i] !== Math.sqrt(i + 1) * 1.5) throw new Error(`${lib}: wrong result`)
  }
  const ex = lib === 'compute' || lib === 'raw transfer' ? null : new ThreadPoolExecutor({ maxWorkers: 1 })
  const raw = lib === 'raw transfer' ? new Worker(workerFile('scale_raw.mjs')) : null
  try {
    const samples: number[] = []
    let copies = 0
    // One array for all rounds (moved there and back when transferred): a new
    // 64 MiB allocation per round would time the garbage collector, not the path.
    const sab = lib === 'shared' ? new SharedArrayBuffer(length * 8) : null
    let a: Float64Array = sab !== null ? new Float64Array(sab) : new Float64Array(length)
    for (let round = 0; round < 8; round++) {
      fill(a)
      if (lib === 'shared') {
        const before = process.memoryUsage().arrayBuffers
        const start = performance.now()
        await ex!.submit(scaleShared, sab!)
        samples.push(performance.now() - start)
        // Nothing came back but the caller's own memory changed: no copy was made.
        expect(a)
        if (process.memoryUsage().arrayBuffers - before > (length * 8) / 2) copies++
      } else {
        const start = performance.now()
        if (lib === 'compute') scale(a)
        else if (lib === 'transfer') a = (await ex!.submitWith({ transfer: [a.buffer as ArrayBuffer] }, scaleMoved, a)) as Float64Array
        else if (raw !== null) {
          const moved = a
          a = await new Promise<Float64Array>((resolve) => {
            raw.once('message', resolve)
            raw.postMessage(moved, [moved.buffer as ArrayBuffer])
          })
        }        else a = await ex!.submit(scale, a)
        samples.push(performance.now() - start)
        expect(a)
      }
    }
    samples.splice(0, 2) // the first rounds warm up
    return { value: median(samples), unit: 'ms', extra: lib === 'shared' ? { copies } : undefined }
  } finally {
    await ex?.shutdown()
    await raw?.terminate()
  }
}

/** Samples RSS every 10 ms (and at each `sample()`) from now; `stop()` gives the peak above the start, in MB. */
function rssAboveBaseline(): { sample: () => void; stop: () => number } {
  const baseline = process.memoryUsage().rss
  let peak = baseline
  const sample = (): void => {
    const rss = process.memoryUsage().rss
    if (rss > peak) peak = rss
  }
  const timer = setInterval(sample, 10)
  return {
    sample,
    stop: () => {
      clearInterval(timer)
      sample()
      return (peak - baseline) / 2 ** 20
    },
  }
}

/** Pool.imap over a generator of n items; peak RSS above the warm baseline, MB. */
async function imap(n: number): Promise<Measurement> {
  const pool = new Pool({ processes: WORKERS })
  try {
    await pool.map(double, [1, 2, 3, 4])
    const rss = rssAboveBaseline()
    const sample = rss.sample
    function* numbers(): Generator<number> {
      for (let i = 0; i < n; i++) yield i
    }
    const start = performance.now()
    let count = 0
    let sum = 0
    for await (const y of pool.imap(double, numbers())) {
      sum += y
      if ((++count & 4095) === 0) sample()
    }
    const ms = performance.now() - start
    const mb = rss.stop()
    if (count !== n || sum !== n * (n - 1)) throw new Error('imap returned a wrong result')
    return { value: mb, unit: 'MB', extra: { itemsPerSecond: n / (ms / 1000) } }
  } finally {
    pool.close()
    await pool.join()
  }
}

/**
 * n no-op tasks submitted as fast as the executor takes them: through a
 * bounded queue (`maxQueue` 1000, `waitForRoom`), or all at once as a
 * plain loop of `submit` does. Peak RSS above the warm baseline, MB.
 */
async function maxQueue(lib: 'bounded' | 'unbounded', n: number): Promise<Measurement> {
  const ex = new ThreadPoolExecutor({ maxWorkers: WORKERS, ...(lib === 'bounded' ? { maxQueue: 1000 } : {}) })
  try {
    await Promise.all(Array.from({ length: 64 }, () => ex.submit(noop)))
    const rss = rssAboveBaseline()
    const sample = rss.sample
    const start = performance.now()
    let done = 0
    let all!: () => void
    const finished = new Promise<void>((resolve) => (all = resolve))
    const count = (): void => {
      if (++done === n) all()
    }
    for (let i = 0; i < n; i++) {
      if (lib === 'bounded') await ex.waitForRoom()
      ex.submit(noop).addDoneCallback(count)
      if ((i & 4095) === 0) sample()
    }
    await finished
    const ms = performance.now() - start
    return { value: rss.stop(), unit: 'MB', extra: { tasksPerSecond: n / (ms / 1000) } }
  } finally {
    await ex.shutdown()
  }
}

/** Python's side of a case, through python3 (null when there is no python3). */
async function python(what: 'ppe_noop' | 'pool_map', n: number): Promise<Measurement> {
  const { stdout } = await promisify(execFile)('python3', [join(benchDir, 'python', 'bench.py'), what, String(n), String(WORKERS)], {
    timeout: 600_000,
  })
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as { value: number; unit: string; python: string; startMethod: string }
  return { value: out.value, unit: out.unit, extra: { python: out.python, startMethod: out.startMethod } }
}

/** The built CLI the cli-* cases run (`npm run bench` builds it first). */
export const builtCli = join(benchDir, '..', 'dist', 'cli', 'main.js')

/** Wall milliseconds of one shell command over a file of lines, its output checked. */
async function cliLines(lib: ShellLib, task: LineTask, lines: number): Promise<Measurement> {
  if (!existsSync(builtCli)) throw new Error('the cli cases run the built CLI: npm run build first')
  if (lib === 'parallel -j2') {
    const why = ensureParallel()
    if (why !== null) throw new Error(why)
  }
  const dir = workDir(task, lines)
  const out = `out.${process.pid}.txt`
  const started = performance.now()
  const r = spawnSync('sh', ['-c', shellCommand(lib, task, out, builtCli)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  const ms = performance.now() - started
  try {
    if (r.status !== 0) throw new Error(`${lib} failed (${r.status}): ${r.stderr.slice(-500)}`)
    // Every line, in order: the count and both ends are checked (the middle is the same code).
    const output = readFileSync(join(dir, out), 'utf8').split('\n')
    const input = readFileSync(join(dir, `${task}.txt`), 'utf8').split('\n')
    const tasks = (await import(pathToFileURL(join(dir, 'tasks.mjs')).href)) as Record<LineTask, (line: string) => string>
    if (output.length !== input.length) throw new Error(`${lib} wrote ${output.length - 1} lines for ${input.length - 1}`)
    for (const i of [0, input.length - 2]) if (output[i] !== tasks[task](input[i]!)) throw new Error(`${lib}: line ${i + 1} is ${JSON.stringify(output[i])}`)
  } finally {
    rmSync(join(dir, out), { force: true })
  }
  return { value: ms, unit: 'ms' }
}

/** Wall milliseconds of `node -e 0`, or of the built CLI over one line with a JavaScript task module. */
async function cliStart(lib: 'node -e 0' | 'multiproc -j1'): Promise<Measurement> {
  if (!existsSync(builtCli)) throw new Error('the cli cases run the built CLI: npm run build first')
  const dir = workDir('trivial', 1)
  const command = lib === 'node -e 0' ? 'node -e 0' : `node ${builtCli} map tasks.mjs#trivial trivial.txt -o out.${process.pid}.txt -j 1`
  const started = performance.now()
  const r = spawnSync('sh', ['-c', command], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  const ms = performance.now() - started
  rmSync(join(dir, `out.${process.pid}.txt`), { force: true })
  if (r.status !== 0) throw new Error(`${lib} failed (${r.status}): ${r.stderr.slice(-500)}`)
  return { value: ms, unit: 'ms' }
}

/** Runs one measurement. */
export async function measure(caseId: string, lib: string, size: Size): Promise<Measurement> {
  switch (caseId) {
    case 'burst':
      return burst(lib as NoopLib, SIZES.burst[size])
    case 'inflight64':
      return inflight(lib as NoopLib, SIZES.inflight[size])
    case 'rtt':
      return rtt(lib as NoopLib, SIZES.rtt[size])
    case 'map':
      return lib === 'python' ? python('pool_map', SIZES.map[size]) : map(SIZES.map[size])
    case 'pi':
      return pi(lib as (typeof PI_LIBS)[number], SIZES.pi[size])
    case 'cold':
      return cold(lib as NoopLib)
    case 'process':
      return lib === 'python' ? python('ppe_noop', SIZES.process[size]) : processNoop(SIZES.process[size])
    case 'f64':
      return f64(lib as (typeof F64_LIBS)[number], SIZES.f64[size])
    case 'imap':
      return imap(SIZES.imap[size])
    case 'maxqueue':
      return maxQueue(lib as 'bounded' | 'unbounded', SIZES.maxqueue[size])
    case 'cli-trivial':
      return cliLines(lib as ShellLib, 'trivial', SIZES.cliTrivial[size])
    case 'cli-cpu':
      return cliLines(lib as ShellLib, 'cpuish', SIZES.cliCpu[size])
    case 'cli-start':
      return cliStart(lib as 'node -e 0' | 'multiproc -j1')
    case 'cluster-failover':
      return clusterFailover(SIZES.failover[size])
    case 'lanes':
      return lanes(lib as (typeof LANES_LIBS)[number], SIZES.lanes[size])
    case 'cluster':
      return cluster(lib as ClusterLib, SIZES.cluster[size])
    case 'main-job':
      return mainJob(lib as MainJobLib, MAIN_JOB_LINES[size])
  }
  throw new Error(`unknown case ${caseId}`)
}

export function median(values: number[]): number {
  return quantile(values, 0.5)
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

// Process backend: throughput of no-op tasks (2 workers, 20k tasks submitted
// at once) and round-trip latency, next to the thread backend and to
// Python's ProcessPoolExecutor.submit measured in the same run.
//
//   node --import tsx bench/process_pool.ts [tasks=20000] [rounds=5]
//
// Also measures what exact crash attribution costs the process backend: one
// 4-byte pwrite per task (the progress file), and what the alternative (one
// result message per task, so that the first task in flight is always the
// one running) would cap throughput at: raw IPC with one message per task.
import { execFileSync, fork } from 'node:child_process'
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ProcessPoolExecutor, ThreadPoolExecutor, type PoolExecutor } from '../src/index.js'
import { noop } from './tasks.js'

const TASKS = Number(process.argv[2] ?? 20_000)
const ROUNDS = Number(process.argv[3] ?? 5)
const WORKERS = 2

async function throughput(ex: PoolExecutor): Promise<number> {
  await Promise.all(Array.from({ length: WORKERS * 50 }, () => ex.submit(noop))) // start the workers
  let best = 0
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now()
    const futures = new Array(TASKS)
    for (let i = 0; i < TASKS; i++) futures[i] = ex.submit(noop)
    await Promise.all(futures)
    best = Math.max(best, TASKS / ((performance.now() - start) / 1000))
  }
  return best
}

async function latency(ex: PoolExecutor): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < 1000; i++) {
    const start = performance.now()
    await ex.submit(noop)
    samples.push((performance.now() - start) * 1000)
  }
  samples.sort((a, b) => a - b)
  return samples[samples.length >> 1]!
}

/** Median time from `new` to the first result, in milliseconds. */
async function startMs(make: () => PoolExecutor): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < 5; i++) {
    const start = performance.now()
    const ex = make()
    await ex.submit(noop)
    samples.push(performance.now() - start)
    await ex.shutdown()
  }
  samples.sort((a, b) => a - b)
  return samples[2]!
}

async function measure(make: () => PoolExecutor): Promise<{ rate: number; latencyUs: number }> {
  const ex = make()
  try {
    return { rate: await throughput(ex), latencyUs: await latency(ex) }
  } finally {
    await ex.shutdown()
  }
}

function pwriteMicros(): number {
  const path = `/dev/shm/multiproc-bench-${process.pid}`
  let fd: number
  try {
    fd = openSync(path, 'w+')
  } catch {
    fd = openSync(`${fileURLToPath(new URL('.', import.meta.url))}.bench-${process.pid}`, 'w+')
  }
  const n = 200_000
  const buffer = new Int32Array(1)
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    buffer[0] = i
    writeSync(fd, buffer, 0, 4, 0)
  }
  const us = ((performance.now() - start) * 1000) / n
  closeSync(fd)
  try {
    unlinkSync(path)
  } catch {
    // not there
  }
  return us
}

/** Raw IPC, advanced serialization, one message per task each way, 64 in flight. */
async function rawIpcOnePerTask(): Promise<number> {
  const child = fork(fileURLToPath(new URL('./ipc_echo.mjs', import.meta.url)), [], { serialization: 'advanced', execArgv: [] })
  await new Promise((r) => child.once('message', r))
  const n = 20_000
  let sent = 0
  let done = 0
  const start = performance.now()
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < n && sent - done < 64) child.send({ t: 'run', q: [0, 0, [sent++]] })
    }
    child.on('message', () => {
      if (++done === n) resolve()
      else pump()
    })
    pump()
  })
  const rate = n / ((performance.now() - start) / 1000)
  child.kill()
  return rate
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

console.log(`${TASKS} no-op tasks submitted at once, ${WORKERS} workers, best of ${ROUNDS}; latency: median of 1000 sequential round trips`)
const proc = await measure(() => new ProcessPoolExecutor({ maxWorkers: WORKERS }))
const thread = await measure(() => new ThreadPoolExecutor({ maxWorkers: WORKERS }))
const python = JSON.parse(
  execFileSync('python3', [fileURLToPath(new URL('./python_ppe.py', import.meta.url)), String(TASKS), String(WORKERS), String(ROUNDS)], { encoding: 'utf8' }),
) as { tasksPerSecond: number; latencyMedianUs: number; startMethod: string; python: string }
console.log(`process backend   ${fmt(proc.rate).padStart(9)} tasks/s   latency ${proc.latencyUs.toFixed(0).padStart(5)} µs`)
console.log(`thread backend    ${fmt(thread.rate).padStart(9)} tasks/s   latency ${thread.latencyUs.toFixed(0).padStart(5)} µs`)
console.log(
  `Python ${python.python} PPE ${fmt(python.tasksPerSecond).padStart(9)} tasks/s   latency ${python.latencyMedianUs.toFixed(0).padStart(5)} µs   (${python.startMethod})`,
)
console.log(`process backend / Python: ${(proc.rate / python.tasksPerSecond).toFixed(1)}x the throughput, ${(proc.latencyUs / python.latencyMedianUs).toFixed(2)}x the latency`)
console.log(
  `start (new executor → first result, median of 5): process ${(await startMs(() => new ProcessPoolExecutor({ maxWorkers: 1 }))).toFixed(0)} ms, thread ${(await startMs(() => new ThreadPoolExecutor({ maxWorkers: 1 }))).toFixed(0)} ms (includes the loader: run under tsx, a worker transpiles the library)`,
)
const pw = pwriteMicros()
console.log(`crash attribution: one pwrite per task = ${pw.toFixed(2)} µs in the worker, ${((pw * proc.rate) / WORKERS / 1e4).toFixed(1)}% of each worker's time at the measured rate`)
console.log(`one result message per task instead (raw IPC, no scheduler): at most ${fmt(await rawIpcOnePerTask())} tasks/s`)

/**
 * The main-job case: `npm start`'s work (examples/main_job.ts), a file of
 * lines through examples/text_tasks.ts's `digestLine`, output in input
 * order, on 1 and then 2 workers, by multiproc's `map` (as the example
 * calls it: the lines of a readline interface, automatic chunks), by the
 * raw pool and by piscina (chunks of PEER_CHUNK lines, at most
 * PEER_WINDOW chunks in flight, written in order as they come back: what
 * one writes by hand). Every pool is started and warmed (its workers have
 * loaded the task and run it) before the clock starts.
 *
 * A measurement gives the 2-worker speedup (1-worker time / 2-worker time)
 * and, per 10,000 lines of the 2-worker run, the CPU time the process spent
 * outside its workers: the main thread's own (from /proc, per thread), and
 * the whole process's less the worker threads' (which also counts the
 * garbage collector's and libuv's helper threads).
 */
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { Piscina } from 'piscina'
import { ThreadPoolExecutor } from '../src/index.js'
import { digestLine } from '../examples/text_tasks.js'
import { benchDir, type Measurement } from './measure.js'
import { RawPool } from './raw_pool.js'

export const MAIN_JOB_LIBS = ['multiproc', 'raw', 'piscina'] as const
export type MainJobLib = (typeof MAIN_JOB_LIBS)[number]

/** Lines of the input: `npm start`'s 20,000 in a full run. */
export const MAIN_JOB_LINES = { full: 20_000, quick: 6_000, smoke: 96 } as const
/** The peers' chunks: the issue's hand-written pool and piscina send 16 lines a message. */
export const PEER_CHUNK = 16
/** The peers' chunks in flight: multiproc's default window with 2 workers (16 chunks). */
const PEER_WINDOW = 16
const WARM_LINES = 320

const workerUrl = (name: string): URL => pathToFileURL(join(benchDir, 'workers', name))

/** A pool of `workers` threads that runs the main job over a file. */
interface Job {
  /** The file `input` through digestLine into `output`, in order. */
  process(input: string, output: string): Promise<void>
  close(): Promise<unknown>
}

async function writeLine(writer: NodeJS.WritableStream, line: unknown): Promise<void> {
  if (!writer.write(`${line}\n`)) await once(writer, 'drain')
}

async function finish(writer: NodeJS.WritableStream & { end(): unknown }): Promise<void> {
  writer.end()
  await once(writer, 'finish')
}

function multiprocJob(workers: number): Job {
  const executor = new ThreadPoolExecutor({ maxWorkers: workers })
  return {
    // Exactly examples/main_job.ts's loop.
    async process(input, output) {
      const reader = createInterface({ input: createReadStream(input), crlfDelay: Infinity })
      const writer = createWriteStream(output)
      for await (const result of executor.map(digestLine, reader)) await writeLine(writer, result)
      await finish(writer)
    },
    close: () => executor.shutdown(),
  }
}

/** The hand-written ordered pipeline over a pool that runs a chunk of lines. */
function chunkedJob(send: (lines: string[]) => Promise<string[]>, close: () => Promise<unknown>): Job {
  return {
    async process(input, output) {
      const reader = createInterface({ input: createReadStream(input), crlfDelay: Infinity })
      const writer = createWriteStream(output)
      const pending: Promise<string[]>[] = []
      const flush = async (): Promise<void> => {
        for (const line of await pending.shift()!) await writeLine(writer, line)
      }
      let chunk: string[] = []
      for await (const line of reader) {
        chunk.push(line)
        if (chunk.length === PEER_CHUNK) {
          pending.push(send(chunk))
          chunk = []
          while (pending.length >= PEER_WINDOW) await flush()
        }
      }
      if (chunk.length > 0) pending.push(send(chunk))
      while (pending.length > 0) await flush()
      await finish(writer)
    },
    close,
  }
}

function makeJob(lib: MainJobLib, workers: number): Job {
  switch (lib) {
    case 'multiproc':
      return multiprocJob(workers)
    case 'raw': {
      const pool = new RawPool(workerUrl('digest_raw.mjs'), workers)
      return chunkedJob((lines) => pool.call<string[]>(lines), () => pool.close())
    }
    case 'piscina': {
      const pool = new Piscina({ filename: workerUrl('digest_piscina.mjs').href, minThreads: workers, maxThreads: workers })
      return chunkedJob((lines) => pool.run(lines) as Promise<string[]>, () => pool.destroy())
    }
  }
}

/** CPU milliseconds (user + system) of one thread of this process, from /proc; NaN where there is none. */
function threadCpuMs(tid: number): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  } catch {
    return NaN
  }
}
/** Linux's USER_HZ: /proc counts CPU time in 1/100 s. */
const CLOCK_TICKS = 100

function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number)
  } catch {
    return []
  }
}

const processCpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

interface Timed {
  ms: number
  /** CPU ms of the main thread during the run. */
  mainCpuMs: number
  /** CPU ms of the process less its worker threads' during the run. */
  outsideCpuMs: number
}

/** One pool of `workers`: started, warmed, then the file timed. */
async function timed(lib: MainJobLib, workers: number, dir: string): Promise<Timed> {
  const before = new Set(threadIds())
  const job = makeJob(lib, workers)
  try {
    // Twice: the first pass loads the task in every worker, the second runs warm code everywhere.
    for (let r = 0; r < 2; r++) await job.process(join(dir, 'warm.txt'), join(dir, `warm-${lib}.out`))
    const poolThreads = threadIds().filter((tid) => !before.has(tid))
    const poolCpu = (): number => poolThreads.reduce((sum, tid) => sum + threadCpuMs(tid), 0)
    const main0 = threadCpuMs(process.pid)
    const all0 = processCpuMs()
    const pool0 = poolCpu()
    const start = performance.now()
    await job.process(join(dir, 'input.txt'), join(dir, `out-${lib}-${workers}.txt`))
    const ms = performance.now() - start
    const main = threadCpuMs(process.pid) - main0
    const outside = processCpuMs() - all0 - (poolCpu() - pool0)
    return { ms, mainCpuMs: main, outsideCpuMs: outside }
  } finally {
    await job.close()
  }
}

function check(dir: string, lib: MainJobLib, workers: number, lines: number): void {
  const out = readFileSync(join(dir, `out-${lib}-${workers}.txt`), 'utf8').split('\n')
  if (out.length !== lines + 1) throw new Error(`${lib} on ${workers} worker(s) wrote ${out.length - 1} lines for ${lines}`)
  for (const i of [0, lines >> 1, lines - 1]) {
    const line = `line ${i + 1} of ${lines}`
    if (out[i] !== digestLine(line)) throw new Error(`${lib} on ${workers} worker(s): line ${i + 1} is ${JSON.stringify(out[i])}`)
  }
}

/** One measurement of `lib` over `lines` lines: the 2-worker speedup, CPU outside the workers in the extras. */
export async function mainJob(lib: MainJobLib, lines: number): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-bench-main-job-'))
  try {
    const text = (n: number): string => Array.from({ length: n }, (_, i) => `line ${i + 1} of ${n}`).join('\n') + '\n'
    writeFileSync(join(dir, 'input.txt'), text(lines))
    writeFileSync(join(dir, 'warm.txt'), text(WARM_LINES))
    // Starts libuv's threads (the file reads use them) before any pool, so they are not taken for workers.
    await readFile(join(dir, 'warm.txt'))
    // The peers run a JavaScript copy of digestLine: it must give the same lines.
    const copy = (await import(workerUrl('digest_line.mjs').href)) as { digestLine: (line: string) => string }
    if (copy.digestLine('line 1 of 1') !== digestLine('line 1 of 1')) throw new Error('bench/workers/digest_line.mjs differs from examples/text_tasks.ts')
    const one = await timed(lib, 1, dir)
    check(dir, lib, 1, lines)
    const two = await timed(lib, 2, dir)
    check(dir, lib, 2, lines)
    const per10k = (ms: number): number => (ms / lines) * 10_000
    return {
      value: one.ms / two.ms,
      unit: '× (2-worker speedup)',
      extra: {
        ms1: one.ms,
        ms2: two.ms,
        mainCpuMsPer10k: per10k(two.mainCpuMs),
        outsideCpuMsPer10k: per10k(two.outsideCpuMs),
        mainCpuMsPer10k1: per10k(one.mainCpuMs),
      },
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

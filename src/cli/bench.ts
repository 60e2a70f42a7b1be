/**
 * `multiproc bench [module#export]`: the same CPU-bound work on 1, 2, ...
 * cpuCount() workers. For each: wall time, speedup over one worker,
 * efficiency (speedup / workers), and the serial fraction that Amdahl's law
 * needs to explain the speedup (the Karp-Flatt metric:
 * e = (1/S − 1/p) / (1 − 1/p)). From the pool's stats: the p99 time of one
 * item on a worker, and how busy the workers were during the run (a
 * speedup short of the ideal with busy workers is the task's cost of
 * sending; with idle ones, work that did not reach them). Then the speedup
 * as a bar chart against the ideal.
 */
import { loadavg } from 'node:os'
import { cpuCount } from '../cpu_count.js'
import type { Pool } from '../pool.js'
import { task, type TaskRef } from '../task_ref.js'
import { EXIT, choiceOption, integerOption, maxPositionals, parseCommand } from './args.js'
import { contextFor, type BackendName } from './backend.js'
import { piSlice } from './bench_tasks.js'
import { parseTaskSpec } from './task_spec.js'
import { enableTypeScript } from './typescript.js'

export const BENCH_USAGE = `Usage: multiproc bench [module#export] [options]

Runs a CPU-bound task on 1..N workers and prints time, speedup, efficiency and
the serial fraction estimated from Amdahl's law, as a table and a bar chart.
Without a task: pi by the midpoint rule, split into --items slices. A task of
your own is called once per item with the item's index (0, 1, 2, ...).

Options:
  -j, --jobs <n>          largest number of workers (default: cpuCount())
  --items <n>             work items per run (default 64)
  --intervals <n>         intervals of the built-in pi task (default 200000000)
  --repeat <n>            runs per worker count; the fastest counts (default 1)
  --backend <name>        thread (default), process or inline
  -h, --help              this help`

const OPTIONS = {
  jobs: { type: 'string', short: 'j' },
  items: { type: 'string' },
  intervals: { type: 'string' },
  repeat: { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export interface BenchRow {
  workers: number
  ms: number
  speedup: number
  efficiency: number
  /** Karp-Flatt serial fraction; NaN for one worker. */
  serial: number
  /** p99 of one item's time on a worker, in ms (NaN: not measured). */
  p99: number
  /** Share of the run the workers spent running items, 0..1 (NaN: not measured). */
  busy: number
}

/** The Karp-Flatt estimate of the serial fraction from speedup `s` on `p` workers. */
export function serialFraction(s: number, p: number): number {
  if (p <= 1 || !(s > 0)) return NaN
  return (1 / s - 1 / p) / (1 - 1 / p)
}

export function benchRows(times: { workers: number; ms: number; p99?: number; busy?: number }[]): BenchRow[] {
  const base = times[0]!.ms
  return times.map(({ workers, ms, p99 = NaN, busy = NaN }) => {
    const speedup = base / ms
    return { workers, ms, speedup, efficiency: speedup / workers, serial: serialFraction(speedup, workers), p99, busy }
  })
}

const ms = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`)

export function renderTable(rows: BenchRow[]): string {
  const header = ['workers', 'time', 'speedup', 'efficiency', 'serial fraction', 'p99 item', 'workers busy']
  const body = rows.map((r) => [
    String(r.workers),
    ms(r.ms),
    `${r.speedup.toFixed(2)}x`,
    `${(r.efficiency * 100).toFixed(0)}%`,
    Number.isNaN(r.serial) ? '-' : r.serial.toFixed(3),
    Number.isNaN(r.p99) ? '-' : ms(r.p99),
    Number.isNaN(r.busy) ? '-' : `${(r.busy * 100).toFixed(0)}%`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ')
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

/** Speedup bars, '#' measured and '.' up to the ideal (the number of workers). */
export function renderChart(rows: BenchRow[], width = 40): string {
  const max = Math.max(...rows.map((r) => Math.max(r.speedup, r.workers)))
  const scale = width / max
  const label = Math.max(...rows.map((r) => String(r.workers).length))
  return [
    'speedup (# measured, . ideal)',
    ...rows.map((r) => {
      const got = Math.round(r.speedup * scale)
      const ideal = Math.round(r.workers * scale)
      return `${String(r.workers).padStart(label)} | ${'#'.repeat(got)}${'.'.repeat(Math.max(0, ideal - got))} ${r.speedup.toFixed(2)}x`
    }),
  ].join('\n')
}

async function timeRun(pool: Pool, fn: TaskRef | typeof piSlice, items: number, intervals: number, builtin: boolean): Promise<number> {
  const indexes = Array.from({ length: items }, (_, i) => i)
  const start = performance.now()
  if (builtin) await pool.starmap(piSlice, indexes.map((i) => [i, items, intervals] as [number, number, number]), { chunksize: 1 })
  else await pool.map(fn as TaskRef<(i: number) => unknown>, indexes, { chunksize: 1 })
  return performance.now() - start
}

export async function runBenchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('bench', argv, OPTIONS)
  if (values.help) {
    process.stdout.write(`${BENCH_USAGE}\n`)
    return EXIT.OK
  }
  maxPositionals('bench', positionals, 1)
  const maxJobs = integerOption('jobs', values.jobs, 1, 1024) ?? cpuCount()
  const items = integerOption('items', values.items, 1, 10_000_000) ?? 64
  const intervals = integerOption('intervals', values.intervals, 1) ?? 200_000_000
  const repeat = integerOption('repeat', values.repeat, 1, 100) ?? 1
  const backend = choiceOption('backend', values.backend, ['thread', 'process', 'inline'] as const, 'thread') as BackendName
  const spec = positionals[0] === undefined ? null : parseTaskSpec(positionals[0])
  if (spec?.typescript) await enableTypeScript(spec.path)
  const fn = spec === null ? piSlice : task(spec.href, spec.name)
  const workerCounts = backend === 'inline' ? [1] : Array.from({ length: maxJobs }, (_, i) => i + 1)

  process.stdout.write(
    `multiproc bench: ${spec === null ? `pi by the midpoint rule, ${intervals.toLocaleString('en-US')} intervals` : `${spec.path}#${spec.name}`} in ${items} items, ` +
      `${backend} backend, cpuCount() = ${cpuCount()}\n`,
  )
  const load = loadavg()[0]!
  if (load > 0.5) {
    process.stdout.write(`load average ${load.toFixed(2)}: other programs compete for the CPUs, so the speedup below is understated\n`)
  }
  const times: { workers: number; ms: number; p99: number; busy: number }[] = []
  for (const workers of workerCounts) {
    await using pool = new (contextFor(backend).Pool)({ processes: workers })
    // Start every worker and load the task before timing: startup is not the work.
    await timeRun(pool, fn, workers, spec === null ? workers : 1, spec === null)
    let best = { ms: Infinity, busy: NaN }
    for (let r = 0; r < repeat; r++) {
      pool.stats() // starts the window of the workers' busy shares
      const ms = await timeRun(pool, fn, items, intervals, spec === null)
      const shares = pool.stats().perWorker.map((w) => Math.min(1, w.busy))
      if (ms < best.ms) best = { ms, busy: shares.reduce((a, b) => a + b, 0) / workers }
    }
    times.push({ workers, ms: best.ms, p99: pool.stats().runTime.p99, busy: best.busy })
  }
  const rows = benchRows(times)
  process.stdout.write(`\n${renderTable(rows)}\n\n${renderChart(rows)}\n`)
  const last = rows[rows.length - 1]!
  if (rows.length > 1 && last.speedup <= 1) {
    process.stdout.write(`\nWith ${last.workers} workers: no faster than one worker. The CPUs are busy with other work, or the task is too small for its cost of sending.\n`)
  } else if (rows.length > 1) {
    process.stdout.write(
      `\nWith ${last.workers} workers: ${last.speedup.toFixed(2)}x, serial fraction ${last.serial.toFixed(3)}: ` +
        `by Amdahl's law, at most ${Number.isFinite(1 / last.serial) && last.serial > 0 ? `${(1 / last.serial).toFixed(1)}x` : 'unbounded speedup'} on any number of workers.\n`,
    )
  }
  return EXIT.OK
}

/**
 * The benchmark cases: which libraries each runs, and the targets (rows of
 * the README table) computed from the medians. Ratios are taken between
 * measurements of one run, never against numbers from another day: absolute
 * times on a shared machine are noise, ratios much less so.
 */
import { availableParallelism, loadavg } from 'node:os'
import { F64_LIBS, LANES, LANES_LIBS, LANES_SLEEP_MS, NOOP_LIBS, PI_LIBS, median } from './measure.js'

/** A 2-worker speedup needs 2 idle cores: the load average says whether there were. */
function loadNote(): string {
  return `${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`
}


export interface Row {
  metric: string
  target: string
  /** The measured value the target is about (a ratio, or MB). */
  measured: number | null
  unit: '×' | 'MB' | ''
  pass: boolean | null
  /** How far toward the target, 1 = exactly met (for the chart). */
  score: number | null
  note?: string
}

export interface Case {
  id: string
  title: string
  libs: readonly string[]
  /** Fresh processes per library and repetition (cold start wants more). */
  reps: { full: number; quick: number }
  /** The library that needs python3. */
  python?: string
  rows(medians: Record<string, number | undefined>, extras: Record<string, Record<string, unknown>[]>): Row[]
}

function atLeast(metric: string, measured: number | undefined, target: number, note?: string): Row {
  if (measured === undefined || !Number.isFinite(measured)) return { metric, target: `≥ ${target}×`, measured: null, unit: '×', pass: null, score: null, note }
  return { metric, target: `≥ ${target}×`, measured, unit: '×', pass: measured >= target, score: measured / target, note }
}

function atMost(metric: string, measured: number | undefined, target: number, unit: '×' | 'MB' = '×', note?: string): Row {
  const text = unit === 'MB' ? `< ${target} MB` : `≤ ${target}×`
  if (measured === undefined || !Number.isFinite(measured)) return { metric, target: text, measured: null, unit, pass: null, score: null, note }
  return { metric, target: text, measured, unit, pass: measured <= target, score: measured === 0 ? 2 : target / measured, note }
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a / b)

export const CASES: Case[] = [
  {
    id: 'burst',
    title: '100k no-op tasks submitted at once (tasks/s)',
    libs: NOOP_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (m) => [
      atLeast('100k no-op tasks at once, vs piscina', ratio(m.multiproc, m.piscina), 3),
      atLeast('100k no-op tasks at once, vs the raw pool', ratio(m.multiproc, m.raw), 0.8),
    ],
  },
  {
    id: 'inflight64',
    title: '100k no-op tasks, at most 64 in flight (tasks/s)',
    libs: NOOP_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (m) => [atLeast('100k no-op tasks, ≤ 64 in flight, vs piscina', ratio(m.multiproc, m.piscina), 2)],
  },
  {
    id: 'rtt',
    title: 'idle warm round trip of one task (µs, median)',
    libs: NOOP_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (m) => {
      // The floor says how much any library could win here: one postMessage each way.
      const floor = ratio(m.raw, m.piscina)
      const note = floor === undefined ? undefined : `raw postMessage floor: ${floor.toFixed(2)}× piscina; multiproc ${ratio(m.multiproc, m.raw)!.toFixed(2)}× the floor`
      return [atMost('idle warm round trip, vs piscina (time)', ratio(m.multiproc, m.piscina), 0.65, '×', note)]
    },
  },
  {
    id: 'map',
    title: 'Pool.map of 1M tiny items, default chunksize (items/s)',
    libs: ['multiproc', 'python'],
    python: 'python',
    reps: { full: 5, quick: 3 },
    rows: (m) => [atLeast('`map` of 1M tiny items, vs Python `Pool.map`', ratio(m.multiproc, m.python), 1)],
  },
  {
    id: 'pi',
    title: 'CPU-bound π, 2e8 intervals in 64 chunks (ms)',
    libs: PI_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (m) => [
      atLeast('CPU-bound π: 2-worker speedup over 1 worker', ratio(m['1 worker'], m['2 workers']), 1.95, `load average ${loadNote()}`),
      atMost('CPU-bound π: 1 worker vs the main thread (time)', ratio(m['1 worker'], m['main thread']), 1.03),
    ],
  },
  {
    id: 'cold',
    title: 'cold start: new pool of 1 → first result (ms)',
    libs: NOOP_LIBS,
    reps: { full: 9, quick: 5 },
    rows: (m) => [atMost('cold start: new pool → first result, vs raw Worker start (time)', ratio(m.multiproc, m.raw), 1.15)],
  },
  {
    id: 'process',
    title: 'process backend: no-op tasks submitted at once (tasks/s)',
    libs: ['multiproc', 'python'],
    python: 'python',
    reps: { full: 3, quick: 2 },
    rows: (m) => [atLeast('process backend no-op tasks, vs Python `ProcessPoolExecutor.submit`', ratio(m.multiproc, m.python), 3)],
  },
  {
    id: 'f64',
    title: '64 MiB Float64Array through a worker and back (ms)',
    libs: F64_LIBS,
    reps: { full: 3, quick: 2 },
    rows: (m, extras) => {
      const copies = (extras.shared ?? []).reduce((n, e) => n + Number(e.copies ?? 0), 0)
      const sharedRan = (extras.shared ?? []).length > 0
      return [
        atMost('64 MiB Float64Array: transfer path vs the computation alone (time)', ratio(m.transfer, m.compute), 1.05),
        {
          metric: '64 MiB Float64Array: shared-memory path copies nothing',
          target: 'no copy',
          measured: sharedRan ? copies : null,
          unit: '',
          pass: sharedRan ? copies === 0 : null,
          score: sharedRan ? (copies === 0 ? 1 : 0) : null,
          note: m.shared !== undefined && m.compute !== undefined ? `time ${(m.shared / m.compute).toFixed(2)}× the computation` : undefined,
        },
      ]
    },
  },
  {
    id: 'imap',
    title: 'imap over a 1M-item generator: peak RSS above baseline (MB)',
    libs: ['multiproc'],
    reps: { full: 3, quick: 2 },
    rows: (m) => [atMost('`imap` over a 1M-item generator: peak RSS above baseline', m.multiproc, 100, 'MB')],
  },
  {
    id: 'maxqueue',
    title: '1M no-op tasks submitted as fast as taken: peak RSS above baseline (MB)',
    libs: ['bounded', 'unbounded'],
    reps: { full: 3, quick: 2 },
    rows: (m) => [
      atMost(
        '1M tasks through `maxQueue: 1000` and `waitForRoom()`: peak RSS above baseline',
        m.bounded,
        64,
        'MB',
        m.unbounded === undefined ? undefined : `a plain submit loop: ${m.unbounded.toFixed(0)} MB`,
      ),
    ],
  },
  {
    id: 'lanes',
    title: `10k tasks that each await a ${LANES_SLEEP_MS} ms timer, ${LANES} at once per worker (tasks/s)`,
    libs: LANES_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (m, extras) => {
      const shares = (extras.multiproc ?? []).map((e) => Number(e.floorShare)).filter(Number.isFinite)
      const note = shares.length > 0 ? `multiproc at ${(100 * median(shares)).toFixed(0)} % of the timers' floor (${LANES} × 2 workers every ${LANES_SLEEP_MS} ms)` : undefined
      return [atLeast(`I/O-bound tasks, \`concurrentTasksPerWorker: ${LANES}\`, vs piscina`, ratio(m.multiproc, m.piscina), 1, note)]
    },
  },
]

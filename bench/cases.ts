/**
 * The benchmark cases: which libraries each runs, and the targets (rows of
 * the README table) computed from the medians. Ratios are taken between
 * measurements of one run, never against numbers from another day: absolute
 * times on a shared machine are noise, ratios much less so.
 */
import { availableParallelism, loadavg } from 'node:os'
import { F64_LIBS, LANES, LANES_LIBS, LANES_SLEEP_MS, NOOP_LIBS, PI_LIBS, median } from './measure.js'
import { SHELL_LIBS } from './shell_peers.js'
import { CLUSTER_LIBS } from './cluster.js'
import { MAIN_JOB_LIBS, MAIN_JOB_LINES, PEER_CHUNK } from './main_job.js'

/** A 2-worker speedup needs 2 idle cores: the load average says whether there were. */
function loadNote(): string {
  return `${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`
}


/** A ratio taken repetition by repetition (both measured in the same round): its median and range. */
export interface Range {
  median: number
  min: number
  max: number
}

/** The ratio a / b of two libraries of a case, pair by pair over the repetitions; undefined when either did not run. */
export type Pairs = (a: string, b: string) => Range | undefined

export interface Row {
  metric: string
  target: string
  /** The measured value the target is about (a ratio: the median of the pairwise ratios; or MB). */
  measured: number | null
  /** The smallest and largest pairwise ratio, when `measured` is one. */
  range?: [number, number]
  unit: '×' | 'MB' | 'ms' | 's' | 'items/s' | ''
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
  /** A program the case needs installed (the smoke test skips the case without it). */
  needs?: string
  /**
   * The target rows: from the medians of each library, and `pairs`, the
   * ratio of two libraries repetition by repetition (what every ratio row
   * reports, with its range).
   */
  rows(medians: Record<string, number | undefined>, extras: Record<string, Record<string, unknown>[]>, pairs: Pairs): Row[]
}

type Measured = number | Range | undefined

function split(measured: Measured): { value: number | undefined; range?: [number, number] } {
  if (measured === undefined || typeof measured === 'number') return { value: measured }
  return { value: measured.median, range: [measured.min, measured.max] }
}

function atLeast(metric: string, measured: Measured, target: number, note?: string): Row {
  const { value, range } = split(measured)
  if (value === undefined || !Number.isFinite(value)) return { metric, target: `≥ ${target}×`, measured: null, unit: '×', pass: null, score: null, note }
  return { metric, target: `≥ ${target}×`, measured: value, range, unit: '×', pass: value >= target, score: value / target, note }
}

function atMost(metric: string, measured: Measured, target: number, unit: '×' | 'MB' | 'ms' | 's' = '×', note?: string): Row {
  const text = unit === '×' ? `≤ ${target}×` : `< ${target} ${unit}`
  const { value, range } = split(measured)
  if (value === undefined || !Number.isFinite(value)) return { metric, target: text, measured: null, unit, pass: null, score: null, note }
  return { metric, target: text, measured: value, range, unit, pass: value <= target, score: value === 0 ? 2 : target / value, note }
}

/** "0.84× (0.80–0.91)": a pairwise ratio for a note. */
function ratioText(r: Range | undefined): string {
  return r === undefined ? 'n/a' : `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`
}

/** The pairwise ratios of two sample lists taken in the same rounds (round r of each), as a Range. */
export function pairRange(a: readonly number[] | undefined, b: readonly number[] | undefined): Range | undefined {
  if (a === undefined || b === undefined) return undefined
  const ratios = a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i]!).filter(Number.isFinite).sort((x, y) => x - y)
  if (ratios.length === 0) return undefined
  const mid = ratios.length >> 1
  const median = ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2
  return { median, min: ratios[0]!, max: ratios[ratios.length - 1]! }
}

export const CASES: Case[] = [
  {
    id: 'burst',
    title: '100k no-op tasks submitted at once (tasks/s)',
    libs: NOOP_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (_m, _e, pairs) => [
      atLeast('100k no-op tasks at once, vs piscina', pairs('multiproc', 'piscina'), 3),
      atLeast('100k no-op tasks at once, vs the raw pool', pairs('multiproc', 'raw'), 1),
    ],
  },
  {
    id: 'inflight64',
    title: '100k no-op tasks, at most 64 in flight (tasks/s)',
    libs: NOOP_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (_m, _e, pairs) => [
      atLeast('100k no-op tasks, ≤ 64 in flight, vs piscina', pairs('multiproc', 'piscina'), 2),
      atLeast('100k no-op tasks, ≤ 64 in flight, vs the raw pool', pairs('multiproc', 'raw'), 0.8),
    ],
  },
  {
    id: 'rtt',
    title: 'idle warm round trip of one task (µs, median)',
    libs: NOOP_LIBS,
    reps: { full: 5, quick: 3 },
    // The floor is one postMessage each way (the raw pool): no library can do much better.
    rows: (_m, _e, pairs) => [
      atMost('idle warm round trip, vs the raw postMessage pool (time)', pairs('multiproc', 'raw'), 1.15, '×', `vs piscina ${ratioText(pairs('multiproc', 'piscina'))}`),
    ],
  },
  {
    id: 'map',
    title: 'Pool.map of 1M tiny items, default chunksize (items/s)',
    libs: ['multiproc', 'python'],
    python: 'python',
    reps: { full: 5, quick: 3 },
    rows: (_m, _e, pairs) => [atLeast('`map` of 1M tiny items, vs Python `Pool.map`', pairs('multiproc', 'python'), 1.5)],
  },
  {
    id: 'main-job',
    title: `the main job (\`npm start\`): ${MAIN_JOB_LINES.full.toLocaleString('en-US')} lines of digestLine on 1 and 2 warm workers, in order; the peers in chunks of ${PEER_CHUNK} lines (2-worker speedup)`,
    libs: MAIN_JOB_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (m, extras, pairs) => {
      // The yardstick: whichever peer had the higher median speedup in this run.
      const best = (['raw', 'piscina'] as const).filter((lib) => m[lib] !== undefined).reduce<string | undefined>((a, b) => (a === undefined || m[b]! > m[a]! ? b : a), undefined)
      const speedups = MAIN_JOB_LIBS.map((lib) => `${lib} ${m[lib] === undefined ? 'n/a' : `${m[lib]!.toFixed(2)}×`}`).join(', ')
      const values = (lib: string, key: string): number[] | undefined => (extras[lib] === undefined ? undefined : extras[lib]!.map((e) => Number(e[key])))
      const secondsText = (key: string): string =>
        MAIN_JOB_LIBS.map((lib) => {
          const v = values(lib, key)?.filter(Number.isFinite)
          return `${lib} ${v === undefined || v.length === 0 ? 'n/a' : `${(median(v) / 1000).toFixed(2)} s`}`
        }).join(', ')
      const ms2 = (lib: string): number | undefined => {
        const v = values(lib, 'ms2')?.filter(Number.isFinite)
        return v === undefined || v.length === 0 ? undefined : median(v)
      }
      const fastest = (['raw', 'piscina'] as const).filter((lib) => ms2(lib) !== undefined).reduce<string | undefined>((a, b) => (a === undefined || ms2(b)! < ms2(a)! ? b : a), undefined)
      return [
        atLeast('main job: 2-worker speedup, vs the best of the raw pool and piscina', best === undefined ? undefined : pairs('multiproc', best), 1, `speedups ${speedups}; load average ${loadNote()}`),
        // A speedup is over each library's own 1-worker time, so a library slow on one worker gains by it:
        // the time on 2 workers, against whichever peer was faster there, is what a user waits for.
        atMost(
          'main job: time on 2 workers, vs the faster of the raw pool and piscina (time)',
          fastest === undefined ? undefined : pairRange(values('multiproc', 'ms2'), values(fastest, 'ms2')),
          1,
          '×',
          `2 workers ${secondsText('ms2')}; 1 worker ${secondsText('ms1')}`,
        ),
        atMost(
          'main job: CPU time of the main thread per 10,000 lines, vs the raw pool',
          pairRange(values('multiproc', 'mainCpuMsPer10k'), values('raw', 'mainCpuMsPer10k')),
          1.2,
          '×',
          `main thread ${secondsText('mainCpuMsPer10k')}; whole process less the workers ${secondsText('outsideCpuMsPer10k')}`,
        ),
      ]
    },
  },
  {
    id: 'pi',
    title: 'CPU-bound π, 2e8 intervals in 64 chunks (ms)',
    libs: PI_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (_m, _e, pairs) => [
      atLeast('CPU-bound π: 2-worker speedup over 1 worker', pairs('1 worker', '2 workers'), 1.95, `load average ${loadNote()}`),
      atMost('CPU-bound π: 1 worker vs the main thread (time)', pairs('1 worker', 'main thread'), 1.03),
    ],
  },
  {
    id: 'cold',
    title: 'cold start: new pool of 1 → first result (ms)',
    libs: NOOP_LIBS,
    reps: { full: 9, quick: 5 },
    rows: (_m, _e, pairs) => [atMost('cold start: new pool → first result, vs raw Worker start (time)', pairs('multiproc', 'raw'), 1.1)],
  },
  {
    id: 'process',
    title: 'process backend: no-op tasks submitted at once (tasks/s)',
    libs: ['multiproc', 'python'],
    python: 'python',
    reps: { full: 3, quick: 2 },
    rows: (_m, _e, pairs) => [atLeast('process backend no-op tasks, vs Python `ProcessPoolExecutor.submit`', pairs('multiproc', 'python'), 3)],
  },
  {
    id: 'f64',
    title: '64 MiB Float64Array through a worker and back (ms)',
    libs: F64_LIBS,
    reps: { full: 5, quick: 2 },
    rows: (m, extras, pairs) => {
      const copies = (extras.shared ?? []).reduce((n, e) => n + Number(e.copies ?? 0), 0)
      const sharedRan = (extras.shared ?? []).length > 0
      return [
        // The floor is a bare worker doing the same: any isolate that has moved an ArrayBuffer away runs
        // typed-array loops slower from then on (V8's detach protector), and the worker moves the result back.
        atMost(
          '64 MiB Float64Array: transfer path vs the computation alone (time)',
          pairs('transfer', 'compute'),
          1.1,
          '×',
          `a bare worker: ${ratioText(pairs('raw transfer', 'compute'))} the computation; multiproc vs the bare worker ${ratioText(pairs('transfer', 'raw transfer'))}`,
        ),
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
  ...(['trivial', 'cpu'] as const).map(
    (task): Case => ({
      id: `cli-${task}`,
      title:
        task === 'trivial'
          ? '`multiproc map` of 500,000 lines, trivial task, against the shell (ms, whole process)'
          : '`multiproc map` of 100,000 lines, 8 × SHA-256 a line, against the shell (ms, whole process)',
      libs: SHELL_LIBS,
      reps: { full: 7, quick: 3 },
      rows: (m, _e, pairs) => {
        // The yardstick: whichever of the others had the lowest median in this run.
        const others = SHELL_LIBS.filter((lib) => !lib.startsWith('multiproc') && m[lib] !== undefined)
        const best = others.reduce<string | undefined>((a, b) => (a === undefined || m[b]! < m[a]! ? b : a), undefined)
        const skipped = SHELL_LIBS.filter((lib) => m[lib] === undefined)
        const note = `best other: ${best ?? 'none ran'}${skipped.length > 0 ? `; not run: ${skipped.join(', ')}` : ''}`
        return [
          atMost(`\`multiproc map -j2\`, ${task} task, vs the best of one node process, xargs -P2 and GNU parallel (time)`, best === undefined ? undefined : pairs('multiproc -j2', best), 1, '×', note),
          atMost(`\`multiproc map\`, ${task} task: \`-j2\` vs \`-j1\` (time)`, pairs('multiproc -j2', 'multiproc -j1'), 1),
        ]
      },
    }),
  ),
  {
    id: 'cli-start',
    title: '`multiproc map` of one line with a JavaScript task module, against `node -e 0` (ms, whole process)',
    libs: ['node -e 0', 'multiproc -j1'],
    reps: { full: 9, quick: 5 },
    rows: (m) =>
      [atMost('`multiproc map` start-up: one line, JavaScript task module, minus `node -e 0`', m['multiproc -j1'] === undefined || m['node -e 0'] === undefined ? undefined : m['multiproc -j1'] - m['node -e 0'], 150, 'ms')],
  },
  {
    id: 'cluster-failover',
    title: 'cluster: SIGKILL of the worker process running a task → the task done on another worker (ms)',
    libs: ['multiproc'],
    // One measurement kills a worker process several times (SIZES.failover): starting the server and workers once.
    reps: { full: 1, quick: 1 },
    needs: 'nats-server',
    rows: (m, extras) => {
      const samples = (extras.multiproc ?? []).flatMap((e) => (e.samples as number[] | undefined) ?? [])
      const note = samples.length === 0 ? undefined : `min ${(Math.min(...samples) / 1000).toFixed(2)} s, max ${(Math.max(...samples) / 1000).toFixed(2)} s over ${samples.length} kills; default ack wait 2 s`
      const measured = m.multiproc === undefined ? undefined : m.multiproc / 1000
      const metric = 'cluster failover: SIGKILL of a worker → its task done on another (median)'
      if (measured === undefined || !Number.isFinite(measured)) return [{ metric, target: '≤ 3 s', measured: null, unit: 's', pass: null, score: null, note }]
      return [{ metric, target: '≤ 3 s', measured, unit: 's', pass: measured <= 3, score: 3 / measured, note }]
    },
  },
  {
    id: 'lanes',
    title: `10k tasks that each await a ${LANES_SLEEP_MS} ms timer, ${LANES} at once per worker (tasks/s)`,
    libs: LANES_LIBS,
    reps: { full: 5, quick: 3 },
    rows: (_m, extras, pairs) => {
      const shares = (extras.multiproc ?? []).map((e) => Number(e.floorShare)).filter(Number.isFinite)
      const note = shares.length > 0 ? `multiproc at ${(100 * median(shares)).toFixed(0)} % of the timers' floor (${LANES} × 2 workers every ${LANES_SLEEP_MS} ms)` : undefined
      return [atLeast(`I/O-bound tasks, \`concurrentTasksPerWorker: ${LANES}\`, vs piscina`, pairs('multiproc', 'piscina'), 1, note)]
    },
  },
  {
    id: 'cluster',
    title: 'cluster: 100k tiny items through map, one task round trip, 100 MiB each way (one worker process, 2 threads)',
    libs: CLUSTER_LIBS,
    reps: { full: 3, quick: 2 },
    needs: 'nats-server',
    // Absolute figures on this machine: the peers (Ray, mpi4py) are not installable here; docs/cluster.md has their numbers.
    rows: (m, extras) => {
      const items = (lib: string, what: string): Row => {
        const v = m[lib]
        const metric = `cluster: ${what} of 100k tiny items`
        if (v === undefined) return { metric, target: '≥ 600,000', measured: null, unit: 'items/s', pass: null, score: null }
        return { metric, target: '≥ 600,000', measured: Math.round(v), unit: 'items/s', pass: v >= 600_000, score: v / 600_000 }
      }
      const trips = extras['round trip'] ?? []
      const streamMs = trips.map((e) => Number(e.stream)).filter(Number.isFinite)
      const p =
        trips.length === 0
          ? undefined
          : `p10 ${Number(trips[0]!.p10).toFixed(2)}, p90 ${Number(trips[0]!.p90).toFixed(2)}` +
            (streamMs.length > 0 ? `; through the stream (\`direct: false\`) ${median(streamMs).toFixed(2)} ms` : '')
      const mib = (extras['100 MiB'] ?? []).map((e) => Number(e.mibPerSec)).filter(Number.isFinite)
      return [
        items('executor.map', '`NatsExecutor.map`, automatic chunks'),
        items('Pool.map', '`Pool.map` on the nats context'),
        atMost('cluster: round trip of one task (median)', m['round trip'], 1, 'ms', p),
        atMost('cluster: 100 MiB argument and 100 MiB result, one task', m['100 MiB'] === undefined ? undefined : m['100 MiB'] / 1000, 10, 's', mib.length > 0 ? `${median(mib).toFixed(1)} MiB/s moved` : undefined),
      ]
    },
  },
]

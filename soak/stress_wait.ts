/**
 * Stress for the wait/notify paths: `npm run stress:wait [-- options]`.
 *
 *   scenario   CPython's wait(FIRST_EXCEPTION): mul(2, 21), waitAndRaise(event1),
 *              eventWait(event2) on one worker; the caller sets event1 once it
 *              has mul's result. inline, thread (async and blocking waits), process.
 *   ping-pong  per primitive (Event, Semaphore, Condition, Lock, Barrier, Queue
 *              get/put), two sides taking turns:
 *                main-main      both async on the main thread (notify and
 *                               Atomics.waitAsync on the same thread)
 *                main-thread    async on the main thread, blocking in a worker
 *                thread-thread  blocking in two worker threads
 *                main-process   async on both sides, the child through the broker
 *
 * Every wait has a timeout (`--wait-ms`, default 5000): a wait that runs
 * to its deadline is a lost wake-up and is counted (even when the final
 * check at the deadline then succeeds), never a stuck run; the slowest wait
 * of each case is shown too. Busy-loop child
 * processes (`--load`, default 1) keep the CPU contended. One global deadline
 * (`--deadline`, seconds, default 600) bounds the whole run: a case still
 * running then is reported as hung with what it was doing, and the run fails.
 *
 * Options: --iterations N (ping-pong rounds per case, default 2000),
 * --rounds N (scenario rounds per backend, default 300), --only TEXT
 * (cases whose name contains TEXT). Exit code 0 when nothing failed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import {
  Barrier,
  Condition,
  Event,
  FIRST_EXCEPTION,
  InlineExecutor,
  Lock,
  ProcessPoolExecutor,
  Queue,
  Semaphore,
  ThreadPoolExecutor,
  Value,
  wait,
  type PoolExecutor,
} from '../src/index.js'
import * as T from './stress_wait_tasks.js'

export interface StressOptions {
  iterations: number
  rounds: number
  waitMs: number
  /** Absolute `Date.now()` bound for the whole run. */
  deadline: number
  only?: string
  /** Run CPython's scenario too (default true; the tests run it on their own). */
  scenarios?: boolean
  /** Called with each finished row (for live output). */
  onRow?: (row: StressRow) => void
}

export interface StressRow {
  name: string
  tried: number
  /** Waits that ran to their deadline: lost wake-ups (or, for the scenario, wait() calls that did not return). */
  timedOut: number
  wrong: number
  /** The longest single wait, in ms: a wake-up that comes late but before the deadline shows here. */
  slowestMs: number
  ms: number
  hung?: string
}

const PATTERNS: T.Pattern[] = ['event', 'semaphore', 'condition', 'lock', 'barrier', 'queue']
type Pairing = 'main-main' | 'main-thread' | 'thread-thread' | 'main-process'
const PAIRINGS: Pairing[] = ['main-main', 'main-thread', 'thread-thread', 'main-process']
// Lock and Condition ping-pongs keep their count in a Value, which child processes do not share.
const PROCESS_PATTERNS = new Set<T.Pattern>(['event', 'semaphore', 'barrier', 'queue'])

function objectsFor(pattern: T.Pattern): unknown[] {
  switch (pattern) {
    case 'event':
      return [new Event(), new Event()]
    case 'semaphore':
      return [new Semaphore(0), new Semaphore(0)]
    case 'condition':
      return [new Condition(), new Value('i32', 0)]
    case 'lock':
      return [new Lock(), new Value('i32', 0)]
    case 'barrier':
      return [new Barrier(2)]
    case 'queue':
      return [new Queue<number>({ maxsize: 1 }), new Queue<number>({ maxsize: 1 })]
  }
}

interface Executors {
  threads: ThreadPoolExecutor
  processes: ProcessPoolExecutor
}

async function pingPong(pattern: T.Pattern, pairing: Pairing, ex: Executors, n: number, waitMs: number): Promise<Omit<StressRow, 'name' | 'ms'>> {
  const objects = objectsFor(pattern)
  const run = (where: 'main' | 'thread' | 'process', role: T.Role): Promise<T.SideResult> => {
    if (where === 'main') return T.side(pattern, role, objects, n, waitMs)
    if (where === 'thread') return Promise.resolve(ex.threads.submit(T.sideSync, pattern, role, objects, n, waitMs))
    return Promise.resolve(ex.processes.submit(T.side, pattern, role, objects, n, waitMs))
  }
  const [whereA, whereB] = pairing.split('-') as ['main' | 'thread' | 'process', 'main' | 'thread' | 'process']
  const [a, b] = await Promise.all([run(whereA, 'a'), run(whereB, 'b')])
  let wrong = a.wrong + b.wrong
  // Two sides of n rounds each: the Condition's turn and the Lock's count end at 2n.
  if (pattern === 'condition' || pattern === 'lock') wrong += (objects[1] as Value<'i32'>).value === 2 * n ? 0 : 1
  return { tried: n, timedOut: a.timedOut + b.timedOut, wrong, slowestMs: Math.max(a.slowestMs, b.slowestMs) }
}

async function scenario(executor: PoolExecutor, form: 'async' | 'sync', rounds: number, waitMs: number): Promise<Omit<StressRow, 'name' | 'ms'>> {
  let timedOut = 0
  let wrong = 0
  let slowestMs = 0
  await executor.submit(T.mul, 1, 1) // the worker boots outside the measured rounds
  for (let round = 0; round < rounds; round++) {
    const event1 = new Event()
    const event2 = new Event()
    const fs = [
      executor.submit(T.mul, 2, 21),
      executor.submit(form === 'sync' ? T.waitAndRaiseSync : T.waitAndRaise, event1),
      executor.submit(form === 'sync' ? T.eventWaitSync : T.eventWait, event2),
    ]
    const setter = (async () => {
      await fs[0]
      event1.set()
    })()
    const t0 = performance.now()
    const { done } = await wait(fs, { returnWhen: FIRST_EXCEPTION, timeout: waitMs })
    slowestMs = Math.max(slowestMs, Math.round(performance.now() - t0))
    if (!(done.has(fs[0]!) && done.has(fs[1]!))) timedOut++
    event1.set()
    event2.set()
    await setter
    const outcomes = await Promise.allSettled(fs)
    if (outcomes[0]!.status !== 'fulfilled' || outcomes[0]!.value !== 42 || outcomes[1]!.status !== 'rejected' || outcomes[2]!.status !== 'fulfilled') wrong++
  }
  return { tried: rounds, timedOut, wrong, slowestMs }
}

/** Busy-loop children that keep the CPU contended while the cases run. */
function startLoad(count: number): ChildProcess[] {
  const children: ChildProcess[] = []
  for (let i = 0; i < count; i++) children.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
  return children
}

/** Runs the cases; a case still running at the deadline is returned as hung (and the rest skipped). */
export async function runStress(options: StressOptions): Promise<StressRow[]> {
  const rows: StressRow[] = []
  const cases: { name: string; run: (ex: Executors) => Promise<Omit<StressRow, 'name' | 'ms'>> }[] = []
  for (const [name, make, form] of options.scenarios === false ? [] : ([
    ['scenario wait(FIRST_EXCEPTION) inline', () => new InlineExecutor(), 'async'],
    ['scenario wait(FIRST_EXCEPTION) thread', () => new ThreadPoolExecutor({ maxWorkers: 1 }), 'async'],
    ['scenario wait(FIRST_EXCEPTION) thread blocking', () => new ThreadPoolExecutor({ maxWorkers: 1 }), 'sync'],
    ['scenario wait(FIRST_EXCEPTION) process', () => new ProcessPoolExecutor({ maxWorkers: 1 }), 'async'],
  ] as const)) {
    cases.push({
      name,
      run: async () => {
        const executor = make()
        try {
          return await scenario(executor, form, options.rounds, options.waitMs)
        } finally {
          await executor.shutdown({ cancelFutures: true })
        }
      },
    })
  }
  for (const pattern of PATTERNS) {
    for (const pairing of PAIRINGS) {
      if (pairing === 'main-process' && !PROCESS_PATTERNS.has(pattern)) continue
      cases.push({ name: `${pattern} ${pairing}`, run: (ex) => pingPong(pattern, pairing, ex, options.iterations, options.waitMs) })
    }
  }
  const selected = cases.filter((c) => options.only === undefined || c.name.includes(options.only))
  const ex: Executors = { threads: new ThreadPoolExecutor({ maxWorkers: 2 }), processes: new ProcessPoolExecutor({ maxWorkers: 1 }) }
  try {
    // Start every worker first: a side must not wait for the other side's worker to boot.
    const warm = [new Barrier(2)]
    await Promise.all([
      ex.threads.submit(T.sideSync, 'barrier', 'a', warm, 1, 60_000),
      ex.threads.submit(T.sideSync, 'barrier', 'b', warm, 1, 60_000),
      ex.processes.submit(T.mul, 1, 1),
    ])
    for (const c of selected) {
      const start = performance.now()
      let timer: NodeJS.Timeout | undefined
      const outcome = await Promise.race([
        c.run(ex).then((r) => ({ ...r, name: c.name, ms: Math.round(performance.now() - start) })),
        new Promise<StressRow>((resolve) => {
          timer = setTimeout(
            () => resolve({ name: c.name, tried: 0, timedOut: 0, wrong: 0, slowestMs: 0, ms: Math.round(performance.now() - start), hung: `${c.name} was still running at the global deadline` }),
            Math.max(0, options.deadline - Date.now()),
          )
        }),
      ])
      clearTimeout(timer)
      rows.push(outcome)
      options.onRow?.(outcome)
      if (outcome.hung !== undefined) break
    }
  } finally {
    // After a hang the workers may be stuck: do not wait for them.
    const hung = rows.some((r) => r.hung !== undefined)
    await Promise.all([ex.threads.shutdown({ wait: !hung, cancelFutures: true }), ex.processes.shutdown({ wait: !hung, cancelFutures: true })])
  }
  return rows
}

function formatRow(r: StressRow): string {
  return `${r.name.padEnd(46)} ${String(r.tried).padStart(6)} ${String(r.timedOut).padStart(9)} ${String(r.wrong).padStart(6)} ${String(r.slowestMs).padStart(11)} ${String(r.ms).padStart(8)}${r.hung !== undefined ? `  HUNG: ${r.hung}` : ''}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '2000' },
      rounds: { type: 'string', default: '300' },
      'wait-ms': { type: 'string', default: '5000' },
      deadline: { type: 'string', default: '600' },
      load: { type: 'string', default: '1' },
      only: { type: 'string' },
    },
  })
  const load = startLoad(Number(values.load))
  const stopLoad = (): void => {
    for (const child of load) child.kill('SIGKILL')
  }
  process.once('exit', stopLoad)
  const start = Date.now()
  console.log(`${'case'.padEnd(46)} ${'tried'.padStart(6)} ${'timed out'.padStart(9)} ${'wrong'.padStart(6)} ${'slowest ms'.padStart(11)} ${'ms'.padStart(8)}`)
  const rows = await runStress({
    iterations: Number(values.iterations),
    rounds: Number(values.rounds),
    waitMs: Number(values['wait-ms']),
    deadline: start + Number(values.deadline) * 1000,
    ...(values.only !== undefined ? { only: values.only } : {}),
    onRow: (row) => console.log(formatRow(row)),
  })
  stopLoad()
  const failed = rows.filter((r) => r.timedOut > 0 || r.wrong > 0 || r.hung !== undefined)
  console.log(`${rows.length} cases, ${failed.length} failed, load ${load.length} busy child(ren), ${((Date.now() - start) / 1000).toFixed(1)} s`)
  process.exit(failed.length === 0 ? 0 : 1)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main()

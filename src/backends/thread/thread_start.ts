/**
 * How a worker thread starts: the file it starts at, the Node options it
 * inherits, and spare threads started ahead of need.
 *
 * A thread's own start (Node's bootstrap of a fresh isolate, then the
 * worker's runtime) takes some 30 ms, and a short run waits for it before
 * its first task. A program that knows it will soon make a thread pool
 * (`multiproc map` does, as soon as its arguments are read) can start the
 * threads first, with `startSpareThreads`, and load the executor's modules
 * while they boot: a spare waits, its runtime loaded, for the message that
 * tells it which worker it is (and its environment), and the next launch
 * with default Node options (no `execArgv` or `resourceLimits` of its own)
 * takes it instead of starting a thread. This module loads nothing of the executor, so that
 * the threads start before the rest is imported.
 */
import { Worker } from 'node:worker_threads'
import { statSync } from 'node:fs'
import type { ResourceLimits } from 'node:worker_threads'
import { startWithExecArgv, threadLoaderSetup } from '../exec_argv.js'
import { workerEntry } from '../worker_entry.js'

const fromSource = import.meta.url.endsWith('.ts')
const bootstrapUrl = new URL(`../../worker/bootstrap${fromSource ? '.ts' : '.js'}`, import.meta.url)
const entry = new URL('../../worker/thread_entry.js', import.meta.url)
/**
 * The built package's worker start graph as one CommonJS file (written by
 * scripts/bundle_thread_worker.mjs): a fresh thread loads one file instead
 * of some fourteen ES modules. Absent when running from source, or from a
 * dist built by tsc alone; then the bootstrap itself.
 */
const bundleUrl = new URL('../../worker/thread_worker.cjs', import.meta.url)
let ownStart: URL | undefined

/** The library's own first module of a worker thread's runtime: the one-file bundle when it is there and current, else bootstrap.js (or .ts). */
function ownBootstrap(): URL {
  return (ownStart ??= !fromSource && bundleIsCurrent() ? bundleUrl : bootstrapUrl)
}

/** Not older than bootstrap.js: a tsc run after `npm run build` (it rewrites every file) would leave the bundle stale. */
function bundleIsCurrent(): boolean {
  const bundle = statSync(bundleUrl, { throwIfNoEntry: false })
  const bootstrap = statSync(bootstrapUrl, { throwIfNoEntry: false })
  return bundle !== undefined && (bootstrap === undefined || bundle.mtimeMs >= bootstrap.mtimeMs)
}

/**
 * The module a worker thread starts at: with no loader to register first,
 * the runtime itself (one module and one dynamic import fewer); with one,
 * worker/thread_entry.js, which registers it and then imports the same
 * runtime; inside a bundled program, `multiproc/worker`.
 */
function threadStart(registerModules: string[]): URL {
  const found = workerEntry(bootstrapUrl, import.meta.url)
  if (found.bundled) return found.url
  return registerModules.length === 0 ? ownBootstrap() : entry
}

/** What `worker/thread_entry.js` reads from workerData: loaders to register, then the runtime to import. */
export interface ThreadEntryData {
  registerModules: string[]
  bootstrap: string
}

/** The workerData of a spare thread: its worker init comes later, as its first message (`SpareInit`). */
export interface SpareThreadData {
  spare: true
  entry: ThreadEntryData
  /** Modules the spare imports while it waits; a failure is ignored there (the real import reports it). */
  preload: string[]
}

/**
 * The first message a spare thread receives: what a thread started for the
 * launch gets as its workerData, and the environment it would start with
 * now (the launch's, or a copy of this process's): the spare's own copy of
 * `process.env`, made when it started, is made to match it.
 */
export interface SpareInit {
  t: 'init'
  data: Record<string, unknown>
  env: Record<string, string | undefined>
}

export interface ThreadLaunch {
  /** The worker's own data (WorkerInit and its counters); `entry` is added here. */
  workerData: Record<string, unknown>
  execArgv?: string[] | undefined
  resourceLimits?: ResourceLimits | undefined
  env?: NodeJS.ProcessEnv | undefined
  name: string
}

interface Spare {
  worker: Worker
  /** Start file and flags: a launch takes a spare only if it would start the same way. */
  key: string
}

const spares: Spare[] = []

/** Start file, flags and entry data of a thread started with this process's options, or with explicit `execArgv`. */
function plan(execArgv: string[] | undefined): { url: URL; execArgv: string[]; entry: ThreadEntryData } {
  const setup = threadLoaderSetup(execArgv ?? process.execArgv)
  return { url: threadStart(setup.registerModules), execArgv: setup.execArgv, entry: { registerModules: setup.registerModules, bootstrap: ownBootstrap().href } }
}

function keyOf(url: URL, execArgv: string[]): string {
  return JSON.stringify([url.href, execArgv])
}

/**
 * Starts `count` threads now for the next launches of this process to take
 * (ones with default options). Each imports `preload` (module URLs) while
 * it waits. A spare does not keep the process alive; `discardSpareThreads`
 * stops the ones not taken.
 */
export function startSpareThreads(count: number, preload: readonly string[] = []): void {
  const p = plan(undefined)
  for (let i = 0; i < count; i++) {
    const workerData: SpareThreadData = { spare: true, entry: p.entry, preload: [...preload] }
    const worker = startWithExecArgv(p.execArgv, (execArgv) => new Worker(p.url, { workerData, execArgv, name: 'multiproc spare thread' }))
    const spare: Spare = { worker, key: keyOf(p.url, p.execArgv) }
    const drop = (): void => {
      const at = spares.indexOf(spare)
      if (at >= 0) spares.splice(at, 1)
    }
    // A spare that fails to start is simply not taken: a launch then starts a thread and sees the failure itself.
    worker.once('error', drop)
    worker.once('exit', drop)
    worker.unref()
    spares.push(spare)
  }
}

/** Stops the spare threads no launch took. */
export function discardSpareThreads(): void {
  for (const spare of spares.splice(0)) void spare.worker.terminate()
}

/** How many spare threads wait to be taken. */
export function spareThreadCount(): number {
  return spares.length
}

/**
 * A worker thread for a launch: a spare started with the same file and
 * flags, told who it is, or a new thread.
 */
export function launchThread(launch: ThreadLaunch): Worker {
  const p = plan(launch.execArgv)
  const data = { ...launch.workerData, entry: p.entry }
  const env = launch.env
  if (launch.execArgv === undefined && launch.resourceLimits === undefined && (env === undefined || typeof env === 'object')) {
    const key = keyOf(p.url, p.execArgv)
    const at = spares.findIndex((s) => s.key === key)
    if (at >= 0) {
      const [spare] = spares.splice(at, 1)
      const worker = spare!.worker
      worker.removeAllListeners('error')
      worker.removeAllListeners('exit')
      worker.ref()
      worker.postMessage({ t: 'init', data, env: { ...(env ?? process.env) } } satisfies SpareInit)
      return worker
    }
  }
  const start = (execArgv: string[]): Worker => new Worker(p.url, { workerData: data, execArgv, resourceLimits: launch.resourceLimits, env: launch.env, name: launch.name })
  // Inherited flags: leave out the V8 / per-process ones a thread refuses. Explicit ones are the user's call.
  return launch.execArgv === undefined ? startWithExecArgv(p.execArgv, start) : start(p.execArgv)
}

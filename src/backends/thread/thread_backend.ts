/**
 * The `thread` backend: each worker is a `worker_threads.Worker`.
 *
 * Workers share three Int32 counters (started, finished, chunk item) with the caller through a
 * SharedArrayBuffer, so that when one dies the caller knows exactly which of
 * its in-flight tasks was running (it fails, or is retried) and which had
 * not started (they are re-queued, never lost).
 */
import type { Transferable } from '../../wire/transfer.js'
import { Worker } from 'node:worker_threads'
import { statSync } from 'node:fs'
import type { Backend, LaunchOptions, WorkerCallbacks, WorkerHandle } from '../backend.js'
import { startWithExecArgv, threadLoaderSetup } from '../exec_argv.js'
import { workerEntry } from '../worker_entry.js'
import { COUNTERS_BYTES } from '../../worker/runtime.js'

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

class ThreadWorker implements WorkerHandle {
  readonly label: string
  readonly id: number
  readonly counters: Int32Array
  readonly #worker: Worker

  constructor(options: LaunchOptions, callbacks: WorkerCallbacks) {
    const counters = new SharedArrayBuffer(COUNTERS_BYTES)
    this.counters = new Int32Array(counters)
    const setup = threadLoaderSetup(options.execArgv ?? process.execArgv)
    const startAt = threadStart(setup.registerModules)
    const start = (execArgv: string[]): Worker =>
      new Worker(startAt, {
        workerData: { ...options.init, counters, entry: { registerModules: setup.registerModules, bootstrap: ownBootstrap().href } },
        execArgv,
        resourceLimits: options.resourceLimits,
        env: options.env,
        name: options.init.label,
      })
    // Inherited flags: leave out the V8 / per-process ones a thread refuses. Explicit ones are the user's call.
    this.#worker = options.execArgv === undefined ? startWithExecArgv(setup.execArgv, start) : start(setup.execArgv)
    this.id = this.#worker.threadId
    this.label = `thread worker ${this.id}`
    let error: unknown
    this.#worker.on('message', callbacks.onMessage)
    this.#worker.on('error', (e) => {
      error ??= e
    })
    this.#worker.once('exit', (exitCode) => callbacks.onExit({ exitCode, signal: null, error }))
  }

  send(message: Parameters<WorkerHandle['send']>[0], transfer?: Transferable[]): void {
    this.#worker.postMessage(message, transfer as never)
  }

  terminate(): void {
    void this.#worker.terminate()
  }

  ref(): void {
    this.#worker.ref()
  }

  unref(): void {
    this.#worker.unref()
  }
}

export const threadBackend: Backend = {
  name: 'thread',
  capabilities: { sameMachine: true, isolated: true, preemptive: true, sharedMemory: true, ownProcess: false, ownWorkers: true, cancelsRunning: false },
  launch(options, callbacks) {
    return new ThreadWorker(options, callbacks)
  },
}

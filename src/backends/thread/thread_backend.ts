/**
 * The `thread` backend: each worker is a `worker_threads.Worker`.
 *
 * Workers share three Int32 counters (started, finished, chunk item) with the caller through a
 * SharedArrayBuffer, so that when one dies the caller knows exactly which of
 * its in-flight tasks was running (it fails, or is retried) and which had
 * not started (they are re-queued, never lost).
 */
import type { Transferable } from '../../wire/transfer.js'
import type { Worker } from 'node:worker_threads'
import type { Backend, LaunchOptions, WorkerCallbacks, WorkerHandle } from '../backend.js'
import { COUNTERS_BYTES } from '../../worker/runtime.js'
import { launchThread } from './thread_start.js'

class ThreadWorker implements WorkerHandle {
  readonly label: string
  readonly id: number
  readonly counters: Int32Array
  readonly #worker: Worker

  constructor(options: LaunchOptions, callbacks: WorkerCallbacks) {
    const counters = new SharedArrayBuffer(COUNTERS_BYTES)
    this.counters = new Int32Array(counters)
    this.#worker = launchThread({
      workerData: { ...options.init, counters },
      execArgv: options.execArgv,
      resourceLimits: options.resourceLimits,
      env: options.env,
      name: options.init.label,
    })
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

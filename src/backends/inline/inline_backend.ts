/**
 * The `inline` backend: the "worker" runs in the calling thread, one task at
 * a time, like Python's dummy executor. For debugging (breakpoints and
 * console.log in tasks just work) and for machines with one CPU.
 *
 * It goes through the same codec as the real backends: arguments and
 * results are structured-cloned and errors are rebuilt, so a program that
 * works inline works on threads and processes. Each message is delivered
 * from a fresh macrotask, so a long run of tasks never starves I/O.
 *
 * What it cannot do: stop a running task. A timed-out or aborted task
 * settles its Future on time if it is asynchronous, and its result is then
 * discarded; a synchronous task blocks the thread until it returns.
 */
import type { Transferable } from '../../wire/transfer.js'
import type { Backend, LaunchOptions, WorkerCallbacks, WorkerHandle } from '../backend.js'
import type { ToWorker } from '../../wire/messages.js'
import { COUNTERS_BYTES, TaskRunner } from '../../worker/runtime.js'

let nextId = 1

class InlineWorker implements WorkerHandle {
  readonly label: string
  readonly id: number
  readonly counters: Int32Array
  readonly #runner: TaskRunner
  readonly #callbacks: WorkerCallbacks
  #alive = true

  constructor(options: LaunchOptions, callbacks: WorkerCallbacks) {
    this.id = nextId++
    this.label = `inline worker ${this.id}`
    this.#callbacks = callbacks
    const counters = new SharedArrayBuffer(COUNTERS_BYTES)
    this.counters = new Int32Array(counters)
    this.#runner = new TaskRunner(
      {
        post: (message, transfer) => {
          if (!this.#alive) return
          const copy = structuredClone(message, { transfer: transfer ?? [] })
          setImmediate(() => {
            if (this.#alive) callbacks.onMessage(copy)
          })
        },
      },
      { ...options.init, counters },
    )
    this.#runner.onStop = () => this.#exit(0)
    setImmediate(() => void this.#runner.start())
  }

  send(message: ToWorker, transfer?: Transferable[]): void {
    const copy = structuredClone(message, { transfer: transfer ?? [] })
    setImmediate(() => this.#runner.receive(copy))
  }

  terminate(): void {
    this.#runner.abandon()
    this.#exit(1)
  }

  #exit(exitCode: number): void {
    if (!this.#alive) return
    this.#alive = false
    setImmediate(() => this.#callbacks.onExit({ exitCode, signal: null }))
  }

  // Nothing to keep alive: the tasks run on the caller's own event loop.
  ref(): void {}
  unref(): void {}
}

export const inlineBackend: Backend = {
  name: 'inline',
  capabilities: { sameMachine: true, isolated: false, preemptive: false, sharedMemory: true, ownProcess: false, ownWorkers: true, cancelsRunning: false },
  launch(options, callbacks) {
    return new InlineWorker(options, callbacks)
  },
}

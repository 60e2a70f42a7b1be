/**
 * The one small interface every local backend implements: launch a worker,
 * send it messages, hear its messages and its exit, terminate it.
 * Nothing outside `backends/` knows how a worker starts.
 */
import type { Transferable } from '../wire/transfer.js'
import type { ResourceLimits } from 'node:worker_threads'
import type { FromWorker, ToWorker, WorkerInit } from '../wire/messages.js'
import type { Capabilities } from './capabilities.js'

/** How a worker ended. */
export interface WorkerExit {
  /** Python-style exit code: 0, 1, or -N when killed by signal N; null when unknown. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** An error the backend saw as the cause (for example out of memory). */
  error?: unknown
}

export interface WorkerCallbacks {
  onMessage(message: FromWorker): void
  /** Called exactly once, after every message the worker sent was delivered. */
  onExit(exit: WorkerExit): void
}

export interface LaunchOptions {
  init: Omit<WorkerInit, 'counters'>
  resourceLimits?: ResourceLimits | undefined
  execArgv?: string[] | undefined
  env?: NodeJS.ProcessEnv | undefined
}

/** A running worker, as the scheduler sees it. */
export interface WorkerHandle {
  /** Human label, e.g. "thread worker 3" or "process worker 4711". */
  readonly label: string
  /** OS process id (process backend) or thread id. */
  readonly id: number
  /**
   * [started, finished, item] counters of the worker (item: the index of the
   * chunk item started last), read by the scheduler
   * after the worker died to tell which in-flight task was running. Shared
   * memory for threads; the process backend reads them from a file on
   * access. null when the backend cannot tell.
   */
  readonly counters: Int32Array | null
  send(message: ToWorker, transfer?: Transferable[]): void
  /** Stops the worker now, whatever it is doing. `onExit` follows. */
  terminate(): void
  /** Keeps the caller's event loop alive while the worker is busy. */
  ref(): void
  unref(): void
}

export interface Backend {
  readonly name: string
  readonly capabilities: Capabilities
  launch(options: LaunchOptions, callbacks: WorkerCallbacks): WorkerHandle
}

/**
 * The backends every conformance test runs against. Later backends add
 * themselves here. MULTIPROC_BACKENDS=thread,inline narrows the run.
 */
import { InlineExecutor, ProcessPoolExecutor, ThreadPoolExecutor, type PoolExecutor, type PoolExecutorOptions } from '../../src/index.js'

export interface BackendUnderTest {
  name: string
  /** A crash or process.exit in a task cannot hurt the test process. */
  isolated: boolean
  /** A running synchronous task can be stopped. */
  preemptive: boolean
  /** Per-worker memory limits (resourceLimits) are enforced. */
  resourceLimits: boolean
  /** More than one worker at a time. */
  parallel: boolean
  /** SharedArrayBuffers are shared with workers (threads, inline), not refused (processes). */
  sharedMemory: boolean
  create(options?: PoolExecutorOptions): PoolExecutor
}

const all: BackendUnderTest[] = [
  {
    name: 'thread',
    isolated: true,
    preemptive: true,
    resourceLimits: true,
    parallel: true,
    sharedMemory: true,
    create: (options = {}) => new ThreadPoolExecutor({ maxWorkers: 2, ...options }),
  },
  {
    name: 'process',
    isolated: true,
    preemptive: true,
    resourceLimits: true,
    parallel: true,
    sharedMemory: false,
    create: (options = {}) => new ProcessPoolExecutor({ maxWorkers: 2, ...options }),
  },
  {
    name: 'inline',
    isolated: false,
    preemptive: false,
    resourceLimits: false,
    parallel: false,
    sharedMemory: true,
    create: (options = {}) => {
      const { maxWorkers: _ignored, resourceLimits: _r, execArgv: _e, env: _v, idleTimeout: _i, ...rest } = options
      return new InlineExecutor(rest)
    },
  },
]

export function registerBackend(backend: BackendUnderTest): void {
  all.push(backend)
}

export function backends(): BackendUnderTest[] {
  const only = process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim())
  return only ? all.filter((b) => only.includes(b.name)) : all
}

/**
 * The backends every conformance test runs against. Later backends add
 * themselves here. MULTIPROC_BACKENDS=thread,inline narrows the run.
 *
 * The nats backend needs a cluster: when it is selected, this module starts a
 * private nats-server with JetStream and two worker processes (2 threads
 * each) for the test file, and stops them when the file's process exits.
 */
import { InlineExecutor, NatsExecutor, ProcessPoolExecutor, ThreadPoolExecutor, type TaskExecutor, type PoolExecutorOptions } from '../../src/index.js'
import { TestServer, TestWorker } from '../nats/cluster.js'

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
  /** Workers run on the caller's machine: Unix sockets, /dev/shm and POSIX shared memory reach them (a cluster: no). */
  sameMachine: boolean
  /** `initializer` / `initargs` per executor (cluster workers are shared by every caller: no). */
  initializer: boolean
  /** `maxTasksPerChild` per executor (cluster workers are configured where they run: no). */
  maxTasksPerChild: boolean
  /** An executor left without shutdown() does not keep the program alive (a NATS connection does). */
  exitsWhenIdle: boolean
  /** `cancel()` cancels a RUNNING task too (the cluster); else only a queued one, as in Python. */
  cancelsRunning: boolean
  create(options?: PoolExecutorOptions): TaskExecutor
}

const common = { sameMachine: true, initializer: true, maxTasksPerChild: true, exitsWhenIdle: true, cancelsRunning: false }

const all: BackendUnderTest[] = [
  {
    name: 'thread',
    ...common,
    isolated: true,
    preemptive: true,
    resourceLimits: true,
    parallel: true,
    sharedMemory: true,
    create: (options = {}) => new ThreadPoolExecutor({ maxWorkers: 2, ...options }),
  },
  {
    name: 'process',
    ...common,
    isolated: true,
    preemptive: true,
    resourceLimits: true,
    parallel: true,
    sharedMemory: false,
    create: (options = {}) => new ProcessPoolExecutor({ maxWorkers: 2, ...options }),
  },
  {
    name: 'inline',
    ...common,
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

const wanted = (name: string): boolean => process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim()).includes(name) ?? true

if (wanted('nats')) {
  const server = await TestServer.start()
  process.env.MULTIPROC_NATS_URL = server.url
  // Short ack_wait and session timeout keep fault handling quick in tests.
  const workers = [1, 2].map(() => new TestWorker(server.url, ['--concurrency', '2', '--ack-wait', '1500', '--session-timeout', '5000']))
  const stopAll = (): void => {
    if (process.env.MULTIPROC_NATS_DEBUG) for (const w of workers) process.stderr.write(w.output)
    for (const w of workers) w.signal('SIGKILL')
    server.stopSync()
  }
  process.once('exit', stopAll)
  await Promise.all(workers.map((w) => w.ready))
  for (const w of workers) w.unref()
  all.push({
    name: 'nats',
    isolated: true,
    preemptive: true,
    resourceLimits: false,
    parallel: true,
    sharedMemory: false,
    sameMachine: false,
    initializer: false,
    maxTasksPerChild: false,
    exitsWhenIdle: false,
    cancelsRunning: true,
    create: (options = {}) => new NatsExecutor({ maxWorkers: 4, ...(options as Record<string, unknown>) }),
  })
}

export function registerBackend(backend: BackendUnderTest): void {
  all.push(backend)
}

export function backends(): BackendUnderTest[] {
  const only = process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim())
  return only ? all.filter((b) => only.includes(b.name)) : all
}

/**
 * Contexts: the same factories bound to one backend, as Python's
 * `multiprocessing.get_context('spawn')`. A backend plays the part of
 * Python's start method:
 *
 *   'thread'   worker_threads (the default): fast start, shared memory
 *   'process'  child processes: full isolation, a heap per worker
 *   'inline'   the calling thread, one task at a time: debugging, one CPU
 *   'nats'     the workers of a NATS JetStream cluster (`multiproc worker`)
 *
 * A Context is the one place that knows which executor class goes with a
 * backend; everything a context makes (Pool, the executor, and later
 * Process, Queue, Lock, ...) is reached through it. New members are added
 * as getters of this class.
 */
import type { Backend } from './backends/backend.js'
import type { Capabilities } from './backends/capabilities.js'
import { threadBackend } from './backends/thread/thread_backend.js'
import { processBackend } from './backends/child_process/child_process_backend.js'
import { inlineBackend } from './backends/inline/inline_backend.js'
import { CLUSTER_CAPABILITIES } from './backends/nats/capabilities.js'
import { cpuCount } from './cpu_count.js'
import type { PoolExecutorOptions } from './futures/pool_executor.js'
import { ThreadPoolExecutor } from './futures/thread_pool_executor.js'
import { ProcessPoolExecutor } from './futures/process_pool_executor.js'
import { InlineExecutor, type InlineExecutorOptions } from './futures/inline_executor.js'
import { knownKeys, oneOf, plainObject } from './internal/validate.js'
import { invalidArgType } from './errors.js'
import { CONNECTION_KEYS, checkConnectionOptions, type NatsConnectionOptions } from './backends/nats/nats_options.js'
import { Pool, type PoolOptions } from './pool.js'
import type { TaskExecutor } from './futures/task_executor.js'
import { NatsExecutor, type NatsExecutorOptions } from './backends/nats/nats_executor.js'
import { boundClasses, type ContextProcess, type ContextValue, type ContextArray } from './context_primitives.js'
import { START_METHODS, bindContexts, type StartMethod } from './start_method.js'
import { Queue } from './queues/queue.js'
import { JoinableQueue } from './queues/joinable_queue.js'
import { SimpleQueue } from './queues/simple_queue.js'
import { Lock } from './sync/lock.js'
import { RLock } from './sync/rlock.js'
import { BoundedSemaphore, Semaphore } from './sync/semaphore.js'
import { Condition } from './sync/condition.js'
import { Event } from './sync/event.js'
import { Barrier } from './sync/barrier.js'
import { RawArray, RawValue } from './sharedctypes.js'
import { Pipe } from './connection/pipe.js'

export type { StartMethod } from './start_method.js'

/** A Pool class bound to a context: its options have no `context`. */
export type ContextPool = new (options?: Omit<PoolOptions, 'context'>) => Pool

/** An executor class bound to a context: ThreadPoolExecutor, ProcessPoolExecutor, InlineExecutor or NatsExecutor. */
export type ContextExecutor = new (options?: PoolExecutorOptions) => TaskExecutor

/** What the workers of each backend can do: the one table that code outside `backends/` asks. */
const CAPABILITIES: Readonly<Record<StartMethod, Capabilities>> = {
  thread: threadBackend.capabilities,
  process: processBackend.capabilities,
  inline: inlineBackend.capabilities,
  nats: CLUSTER_CAPABILITIES,
}

/** The backends that launch workers on this machine; the cluster's workers are started by `multiproc worker`. */
const LOCAL_BACKENDS: Readonly<Partial<Record<StartMethod, Backend>>> = { thread: threadBackend, process: processBackend, inline: inlineBackend }

/** The options of `PoolExecutorOptions` an InlineExecutor takes (it has one worker and no process-level options). */
const INLINE_KEYS = ['initializer', 'initargs', 'maxTasksPerChild', 'retries', 'retryOn', 'retryBackoff', 'maxQueue', 'concurrentTasksPerWorker'] as const satisfies readonly (keyof InlineExecutorOptions)[]

/**
 * A backend bound to Python's `multiprocessing` names (Python's context
 * objects): `Pool`, `Executor`, `Process`, the queues, locks and shared
 * values of a context all run on its backend. Get one with `getContext(name)`.
 *
 * @example
 * const ctx = getContext('process')
 * await using pool = new ctx.Pool({ processes: 2 })
 * const q = new ctx.Queue<number>()
 * const p = new ctx.Process({ target: produce, args: [q] })
 * p.start()
 * console.log(await q.get())
 * await p.join()
 */
export class Context {
  readonly #name: StartMethod
  readonly #nats: NatsConnectionOptions
  #pool: ContextPool | undefined
  #executor: ContextExecutor | undefined

  /** @internal Use `getContext(name)`. */
  constructor(name: StartMethod, nats: NatsConnectionOptions = {}) {
    this.#name = name
    this.#nats = nats
  }

  /** The backend: 'thread', 'process' or 'inline'. */
  get name(): StartMethod {
    return this.#name
  }

  /** Python's `ctx.get_start_method()`. */
  getStartMethod(): StartMethod {
    return this.#name
  }

  /** What the workers of this context can do (same machine, shared memory, own processes...). */
  get capabilities(): Capabilities {
    return CAPABILITIES[this.#name]
  }

  /** @internal The backend that launches this context's workers on this machine; null for the cluster. */
  get backend(): Backend | null {
    return LOCAL_BACKENDS[this.#name] ?? null
  }

  /**
   * The executor class of this context: ThreadPoolExecutor,
   * ProcessPoolExecutor, InlineExecutor, or NatsExecutor bound to the
   * context's servers.
   *
   * @example
   * await using ex = new (getContext('process').Executor)({ maxWorkers: 2 })
   */
  get Executor(): ContextExecutor {
    switch (this.#name) {
      case 'thread':
        return ThreadPoolExecutor
      case 'process':
        return ProcessPoolExecutor
      case 'inline':
        return InlineExecutor
      case 'nats': {
        // NatsExecutor bound to this context's servers and credentials.
        const nats = this.#nats
        this.#executor ??= class ContextBoundNatsExecutor extends NatsExecutor {
          constructor(options: NatsExecutorOptions = {}) {
            super({ ...nats, ...options })
          }
        }
        return this.#executor
      }
    }
  }

  /**
   * `Pool` bound to this context.
   *
   * @example
   * const ctx = getContext('process')
   * await using pool = new ctx.Pool({ processes: 4 })
   */
  get Pool(): ContextPool {
    if (this.#pool === undefined) {
      const context = this
      this.#pool = class ContextBoundPool extends Pool {
        constructor(options: Omit<PoolOptions, 'context'> = {}) {
          super({ ...options, context })
        }
      }
    }
    return this.#pool
  }

  // Processes and primitives (context_primitives.ts). The primitives are the
  // same classes everywhere (threads share memory, child processes go through
  // the parent); Process and Value/Array are bound to this context.

  /** `Process` running on this context's backend. */
  get Process(): ContextProcess {
    return boundClasses(this).Process
  }
  /** Shared numbers; in the process context, kept where child processes can reach them. */
  get Value(): ContextValue {
    return boundClasses(this).Value
  }
  /** Shared arrays of numbers (Python's `ctx.Array`), as `Value` is bound to this context. */
  get Array(): ContextArray {
    return boundClasses(this).Array
  }
  /** The same as `Array`, under a name that does not shadow the global `Array`. */
  get SharedArray(): ContextArray {
    return boundClasses(this).Array
  }
  /** A `Value` of this context without a lock (Python's `ctx.RawValue`). */
  get RawValue(): typeof RawValue {
    const V = this.Value
    return ((type, init, options = {}) => new V(type, init, { ...options, lock: false })) as typeof RawValue
  }
  /** An `Array` of this context without a lock (Python's `ctx.RawArray`). */
  get RawArray(): typeof RawArray {
    const A = this.Array
    return ((type, sizeOrInit, options = {}) => new A(type, sizeOrInit, { ...options, lock: false })) as typeof RawArray
  }
  // The same classes on every context (the cluster refuses them at submit).
  /** The `Queue` class (the same on every context). */
  readonly Queue = Queue
  /** The `JoinableQueue` class. */
  readonly JoinableQueue = JoinableQueue
  /** The `SimpleQueue` class. */
  readonly SimpleQueue = SimpleQueue
  /** The `Lock` class. */
  readonly Lock = Lock
  /** The `RLock` class. */
  readonly RLock = RLock
  /** The `Semaphore` class. */
  readonly Semaphore = Semaphore
  /** The `BoundedSemaphore` class. */
  readonly BoundedSemaphore = BoundedSemaphore
  /** The `Condition` class. */
  readonly Condition = Condition
  /** The `Event` class. */
  readonly Event = Event
  /** The `Barrier` class. */
  readonly Barrier = Barrier
  /** The `Pipe` function. */
  readonly Pipe = Pipe

  /** The CPUs this process can use (see `cpuCount()`). */
  cpuCount(): number {
    return cpuCount()
  }

  /**
   * @internal Creates this context's executor. The inline backend has a
   * single worker and no process-level options, so those are dropped.
   */
  createExecutor(options: PoolExecutorOptions): TaskExecutor {
    if (this.#name === 'inline') return new InlineExecutor(definedOnly(options, INLINE_KEYS))
    return new this.Executor(options)
  }

  /** `'Context(process)'`: the backend, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return `Context(${this.#name})`
  }
}

function definedOnly<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]])) as Pick<T, K>
}

const contexts = new Map<StartMethod, Context>()

/**
 * The context of a backend: `Pool`, an executor class and (as they come)
 * the other primitives, bound to it. Python's `multiprocessing.get_context()`.
 *
 * @param name 'thread' (default), 'process', 'inline' or 'nats'
 * @param options for 'nats': `servers` (default `MULTIPROC_NATS_URL` or
 *   nats://127.0.0.1:4222), `user`/`pass`, `token`, `nkeySeed`, `credsFile`,
 *   `tls`, `prefix`, `stream`, `maxPayloadSize` (largest task or result, default 1 GiB;
 *   for every executor and Pool of the context)
 * @throws RangeError for an unknown name
 * @example
 * const ctx = getContext('process')
 * await using pool = new ctx.Pool()
 * console.log(await pool.map(square, [1, 2, 3]))
 * const cluster = getContext('nats', { servers: 'nats://10.0.0.5:4222' })
 */
export function getContext(name: StartMethod = 'thread', options?: NatsConnectionOptions): Context {
  const method = oneOf('name', name, START_METHODS)
  if (method === 'nats' && options !== undefined) {
    const opts = plainObject('options', options)
    knownKeys('getContext()', opts, CONNECTION_KEYS)
    checkConnectionOptions(opts)
    return new Context('nats', opts as NatsConnectionOptions)
  }
  if (options !== undefined) throw invalidArgType(`Expected no options for the ${method} context, got ${typeof options}`)
  let context = contexts.get(method)
  if (context === undefined) {
    context = new Context(method)
    contexts.set(method, context)
  }
  return context
}

/**
 * The backends `getContext` accepts: Python's `get_all_start_methods()`.
 * @returns `['thread', 'process', 'inline', 'nats']`
 * @example
 * for (const name of getAllStartMethods()) console.log(name)
 */
export function getAllStartMethods(): StartMethod[] {
  return [...START_METHODS]
}

// Pool and Process resolve their `context` option through start_method.ts,
// which cannot import this module (it imports them).
bindContexts((value) => {
  if (value === undefined || value === null) return getContext()
  if (value instanceof Context) return value
  if (typeof value === 'string') return getContext(value as StartMethod)
  return undefined
})

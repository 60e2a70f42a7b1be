/**
 * Python's `multiprocessing.Process`: run one function in its own worker.
 *
 *   new Process({ target, args }) ─start()─▶ backend.launch(worker)
 *        └─ run process_entry.runProcessTarget(info, target, args), then stop
 *   ─ worker exits ─▶ exitCode: 0; 1 if the target threw (its error printed
 *                     on stderr, as Python prints the traceback); -N when
 *                     terminate()/kill() stopped it with signal N
 *
 * The context (default: getContext(), worker threads) picks the backend: a
 * worker thread, or a child process (getContext('process')). Arguments go
 * as for tasks, shared primitives included (Queue, Lock, Value...).
 *
 * Lifecycle: initial ─start()─▶ started ─exit─▶ stopped; start() twice, or
 * join() before start(), is an InvalidStateError.
 */
import { constants } from 'node:os'
import { inspect } from 'node:util'
import { InvalidStateError, SerializationError, UnsupportedBackendError, invalidArgType } from './errors.js'
import { boolean, describe, keysOf, knownKeys, plainObject, string, timeoutOption } from './internal/validate.js'
import { resolveTask, type Task, type TaskArgs, type ResolvedTask } from './task_ref.js'
import type { Backend, WorkerHandle } from './backends/backend.js'
import { findUncloneable } from './wire/clone_check.js'
import { FLAG_SHARED, KIND_CALL, PROTOCOL_VERSION, STATUS_ERROR, type FromWorker } from './wire/messages.js'
import { deserializeError, type SerializedValue } from './wire/remote_error.js'
import { encodeShareables } from './wire/shareable.js'
import { addChild, currentProcess, type ProcessInfoData } from './process_info.js'
import type { Context } from './context.js'
import { contextFor, type StartMethod } from './start_method.js'

const entryModule = new URL(`./process_entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href

/** Options of `new Process()`. */
export interface ProcessOptions<T extends Task = Task> {
  /** The function to run: an exported function or a task reference. */
  target: T
  /** Its arguments (default none). */
  args?: TaskArgs<T>
  /** Default 'Process-N'. */
  name?: string
  /** A daemon does not keep the program alive, and is stopped when it ends (default false). */
  daemon?: boolean
  /** Where it runs: a Context or its name (default: getContext(), worker threads). */
  context?: Context | StartMethod
}

let counter = 0

type State = 'initial' | 'started' | 'stopped'

/**
 * Python's `multiprocessing.Process`: runs `target(...args)` once in a worker
 * thread or a child process (its context). `start()`, `await join()`,
 * `terminate()`, `kill()`, `exitCode`.
 *
 * @typeParam T - the target's type, which checks `args`
 * @example
 * const p = new Process({ target: work, args: [queue, 3], context: 'process' })
 * p.start()
 * await p.join()
 * console.log(p.exitCode) // 0
 */
export class Process<T extends Task = Task> {
  readonly #task: ResolvedTask
  readonly #args: unknown[]
  readonly #context: Context
  readonly #backend: Backend
  #name: string
  #daemon: boolean
  #state: State = 'initial'
  #handle: WorkerHandle | null = null
  #exitCode: number | null = null
  #error: unknown = undefined
  #stoppedBy: NodeJS.Signals | null = null
  readonly #exited: Promise<void>
  #resolveExited!: () => void

  /**
   * @throws TypeError when `target` cannot be sent to a worker (not exported) or an option is wrong
   * @example
   * const p = new Process({ target: work, args: [queue, 3] })
   * p.start()
   * await p.join()
   */
  constructor(options: ProcessOptions<T>) {
    const o = plainObject('options', options)
    knownKeys('Process', o, keysOf<ProcessOptions>({ target: true, args: true, name: true, daemon: true, context: true }))
    if (o.target === undefined) throw invalidArgType('Expected `options.target` to be an exported function or a task reference, got undefined')
    this.#task = resolveTask(o.target, 'options.target')
    if (o.args !== undefined && !Array.isArray(o.args)) throw invalidArgType(`Expected \`options.args\` to be an array, got ${describe(o.args)}`)
    this.#args = (o.args as unknown[] | undefined) ?? []
    counter++
    this.#name = o.name === undefined ? `Process-${counter}` : string('options.name', o.name)
    this.#daemon = o.daemon === undefined ? false : boolean('options.daemon', o.daemon)
    this.#context = contextFor(o.context) ?? (o.context as Context)
    const backend = this.#context.backend
    if (!this.#context.capabilities.ownWorkers || backend === null) {
      // A Process is one worker its caller starts; the cluster's workers are started elsewhere and run tasks, not processes.
      throw new UnsupportedBackendError(
        `A Process runs on this machine (context 'thread', 'process' or 'inline'); the ${this.#context.name} context runs tasks on the cluster: use getContext('${this.#context.name}').Executor or Pool`,
      )
    }
    this.#backend = backend
    this.#exited = new Promise((resolve) => (this.#resolveExited = resolve))
  }

  /** The name: `Process-N` unless given. */
  get name(): string {
    return this.#name
  }

  /** Renames the process (as Python allows). */
  set name(value: string) {
    this.#name = string('name', value)
  }

  /** Whether it is a daemon: it does not keep the program alive, and is stopped when the program ends. */
  get daemon(): boolean {
    return this.#daemon
  }

  /** @throws InvalidStateError once started */
  set daemon(value: boolean) {
    if (this.#state !== 'initial') throw new InvalidStateError('Cannot change `daemon` of a started Process')
    this.#daemon = boolean('daemon', value)
  }

  /** Python's exit code: null while running, 0, 1 after an uncaught error, -N after signal N. */
  get exitCode(): number | null {
    return this.#exitCode
  }

  /** The child's pid (process context); this process's pid for a thread (see `ident`). Undefined before start. */
  get pid(): number | undefined {
    if (this.#handle === null) return undefined
    return this.#backend.capabilities.ownProcess ? this.#handle.id : process.pid
  }

  /** The thread id (thread context) or pid (process context). */
  get ident(): number | undefined {
    return this.#handle?.id
  }

  /** The error the target threw, once stopped (undefined if none). */
  get error(): unknown {
    return this.#error
  }

  /**
   * Starts the target in a new worker.
   * @throws InvalidStateError when started twice; SerializationError or
   *   UnsupportedBackendError for arguments the worker cannot receive
   */
  start(): void {
    if (this.#state !== 'initial') throw new InvalidStateError(`Process ${this.#name} was already started`)
    const backend = this.#backend
    const target = { ...backend.capabilities, backend: backend.name }
    const found = { shareables: 0 }
    for (let i = 0; i < this.#args.length; i++) {
      const problem = findUncloneable(this.#args[i], `args[${i}]`, undefined, target.sharedMemory, found)
      if (problem !== null) {
        throw new SerializationError(`Cannot send argument ${i} of Process ${this.#name} to its worker: ${problem.reason}`, { argIndex: i, path: problem.path, reason: problem.reason })
      }
    }
    const args = encodeShareables(this.#args, target) as unknown[]
    const me = currentProcess()
    const info: ProcessInfoData = { name: this.#name, daemon: this.#daemon, parent: { name: me.name, pid: me.pid, ident: me.ident, daemon: me.daemon } }
    this.#state = 'started'
    const handle = backend.launch(
      { init: { v: PROTOCOL_VERSION, label: this.#name, initializer: null, initargs: [], backend: backend.name } },
      { onMessage: (m) => this.#onMessage(m), onExit: (exit) => this.#onExit(exit.exitCode, exit.signal) },
    )
    this.#handle = handle
    if (this.#daemon) handle.unref()
    addChild(this)
    // One task, then stop: the worker exits when the target is done.
    const run = (): void => {
      handle.send({ t: 'run', f: [[0, entryModule, 'runProcessTarget']], q: [KIND_CALL | FLAG_SHARED, 0, [info, this.#task.module, this.#task.name, args]] })
      handle.send({ t: 'stop' })
    }
    const verified = this.#task.verified
    if (verified === null) run()
    else
      verified.then(run, (error: unknown) => {
        this.#fail(error)
        handle.terminate()
      })
  }

  /** Whether it was started and has not ended yet. */
  isAlive(): boolean {
    return this.#state === 'started'
  }

  /**
   * Waits until the process ends, or the timeout passes (then it returns
   * anyway; check `exitCode`).
   * @throws InvalidStateError before start()
   */
  async join(options: { timeout?: number } = {}): Promise<void> {
    const timeout = timeoutOption('Process.join()', options)
    if (this.#state === 'initial') throw new InvalidStateError(`Cannot join Process ${this.#name}: it was not started`)
    if (this.#state === 'stopped') return
    // A daemon's worker does not keep the loop alive; a join must.
    this.#handle?.ref()
    let timer: NodeJS.Timeout | undefined
    try {
      await (timeout === undefined || timeout === Infinity
        ? this.#exited
        : Promise.race([this.#exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]))
    } finally {
      clearTimeout(timer)
      if (this.#daemon && this.#state === 'started') this.#handle?.unref()
    }
  }

  /** Stops it with SIGTERM (exitCode -15). */
  terminate(): void {
    this.#stop('SIGTERM')
  }

  /** Stops it with SIGKILL (exitCode -9). */
  kill(): void {
    this.#stop('SIGKILL')
  }

  /**
   * Python's `close()`: nothing to free here beyond what the exit freed, but
   * like Python it refuses a process that is still running.
   * @throws InvalidStateError while it runs
   */
  close(): void {
    if (this.#state === 'started') throw new InvalidStateError(`Cannot close Process ${this.#name}: it is still running`)
  }

  /** `await using p = new Process(...)`: joins it at the end of the scope if it was started. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === 'started') await this.join()
  }

  #stop(signal: NodeJS.Signals): void {
    if (this.#state !== 'started' || this.#handle === null) return
    this.#stoppedBy ??= signal
    // A worker that is a process of its own is killed outright; a thread can only be terminated.
    if (this.#backend.capabilities.ownProcess && signal === 'SIGKILL') {
      try {
        process.kill(this.#handle.id, 'SIGKILL')
        return
      } catch {
        // already gone
      }
    }
    this.#handle.terminate()
  }

  #onMessage(message: FromWorker): void {
    if (message.t === 'done') {
      if (message.r[0] === STATUS_ERROR) this.#fail(deserializeError(message.r[1] as SerializedValue))
    } else if (message.t === 'fatal') {
      this.#fail(deserializeError(message.e))
    }
  }

  #fail(error: unknown): void {
    this.#error ??= error
    // Python prints the traceback of a failed target on stderr.
    process.stderr.write(`Process ${this.#name}:\n${inspect(error)}\n`)
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    let exitCode: number
    if (signal !== null) exitCode = -(constants.signals[signal] ?? 0)
    else if (this.#stoppedBy !== null && !this.#backend.capabilities.ownProcess) exitCode = -constants.signals[this.#stoppedBy]
    else if (code !== null && code !== 0) exitCode = code
    else exitCode = this.#error !== undefined ? 1 : (code ?? 1)
    this.#exitCode = exitCode
    this.#state = 'stopped'
    this.#resolveExited()
  }

  /** `'Process'` with its name and state, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return `Process(${this.#name}, ${this.#state === 'stopped' ? `exitCode=${this.#exitCode}` : this.#state})`
  }
}

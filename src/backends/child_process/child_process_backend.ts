/**
 * The `process` backend: each worker is a Node.js process started with
 * `child_process.fork`, talking over IPC with advanced serialization (the
 * V8 serializer: the values structured clone supports, always copied;
 * transfer lists do not apply and SharedArrayBuffers cannot travel).
 *
 *   caller ── fork(process_bootstrap, [caller pid]) ──▶ worker process
 *     stdio: 0 ignored (as Python's workers: no stdin), 1 shared (stdout
 *     goes straight to the caller's), 2 relayed line by line (stderr_relay.ts),
 *     3 IPC, 4 the progress file (progress_file.ts)
 *
 * The caller's execArgv carries over (`--import tsx` included, so `.ts` task
 * modules work), and `resourceLimits` become V8 heap flags.
 *
 * Exit. `onExit` must come after every message the worker sent. Node's
 * 'exit' event may come before the last IPC messages, and 'close' waits for
 * stderr, which a grandchild process may hold open for a long time; so the
 * exit is reported once the process has exited and the IPC channel has
 * closed (all its messages read), and stderr has ended or had 200 ms more.
 *
 * Lifetime. Workers never outlive the caller: they exit when the IPC channel
 * closes, a watchdog thread in each worker kills it when it was re-parented
 * (the caller died, even by SIGKILL, while a task never yields), and the
 * caller sends SIGTERM to its workers when it exits. `terminate()` sends
 * SIGTERM and, if the worker is still there after a second, SIGKILL.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { ResourceLimits } from 'node:worker_threads'
import type { Transferable } from '../../wire/transfer.js'
import type { Backend, LaunchOptions, WorkerCallbacks, WorkerExit, WorkerHandle } from '../backend.js'
import type { FromWorker, ToWorker } from '../../wire/messages.js'
import { processExecArgv } from '../exec_argv.js'
import { workerEntry } from '../worker_entry.js'
import { ProgressFile, type Progress } from './progress_file.js'
import { nativeShm } from '../../shared_memory/native.js'
import { StderrRelay } from './stderr_relay.js'
import { deliverSideMessage, isSideMessage, sideChannelGone } from './side_channel.js'

/** The library's own process bootstrap; inside a bundle, workerEntry() finds `multiproc/worker` instead. */
const ownBootstrap = new URL(`../../worker/process_bootstrap${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

/** How long a worker may take to die after SIGTERM before it gets SIGKILL. */
export const TERMINATE_GRACE_MS = 1000
/** How long to wait for the end of stderr after the worker exited. */
const STDERR_GRACE_MS = 200
/** How long to wait for the IPC channel to close after the worker exited. */
const CHANNEL_GRACE_MS = 1000

const CRASH_SIGNALS = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP'])
const OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit/

const live = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // The caller is exiting: workers busy in a long task would otherwise go on
  // until their watchdog notices (they exit on their own when idle).
  process.on('exit', () => {
    for (const child of live) child.kill('SIGTERM')
  })
}

/** V8 flags for the heap limits a worker thread would get from `resourceLimits`. */
export function heapFlags(limits: ResourceLimits | undefined): string[] {
  const flags: string[] = []
  if (limits?.maxOldGenerationSizeMb !== undefined) flags.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`)
  // V8's young generation is three semi-spaces (two plus the large-object space).
  if (limits?.maxYoungGenerationSizeMb !== undefined) flags.push(`--max-semi-space-size=${Math.max(1, Math.floor(limits.maxYoungGenerationSizeMb / 3))}`)
  return flags
}

function isMessage(value: unknown): value is FromWorker {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string'
}

class ProcessWorker implements WorkerHandle {
  readonly label: string
  readonly id: number
  readonly #child: ChildProcess
  readonly #progress: ProgressFile
  readonly #stderr: StderrRelay
  readonly #callbacks: WorkerCallbacks
  #exit: WorkerExit | null = null
  #disconnected = false
  #reported = false
  #progressAtExit: Progress | null = null
  #killTimer: NodeJS.Timeout | undefined = undefined
  #channelTimer: NodeJS.Timeout | undefined = undefined

  constructor(options: LaunchOptions, callbacks: WorkerCallbacks) {
    this.#callbacks = callbacks
    this.#progress = new ProgressFile(nativeShm !== null)
    try {
      this.#child = fork(fileURLToPath(workerEntry(ownBootstrap, import.meta.url).url), [String(process.pid), this.#progress.shmName ?? ''], {
        execArgv: [...processExecArgv(options.execArgv ?? process.execArgv), ...heapFlags(options.resourceLimits)],
        env: options.env ?? process.env,
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'pipe', 'ipc', this.#progress.fd],
      })
    } catch (error) {
      this.#progress.close()
      throw error
    }
    const child = this.#child
    this.id = child.pid ?? -1
    this.label = `process worker ${child.pid ?? '(not started)'}`
    this.#stderr = new StderrRelay(child.stderr!)
    live.add(child)
    installExitHook()

    const reply = (message: unknown): void => {
      if (child.connected) child.send(message as never)
    }
    child.on('message', (message: unknown) => {
      if (isSideMessage(message)) deliverSideMessage(message, reply, child.pid ?? -1)
      else if (isMessage(message)) callbacks.onMessage(message)
    })
    child.on('error', (error) => {
      // A failed spawn never exits; a send on a closed channel is followed by the exit.
      if (child.pid === undefined && this.#exit === null) {
        this.#exit = { exitCode: null, signal: null, error }
        this.#disconnected = true
        this.#maybeFinish()
      }
    })
    child.once('disconnect', () => {
      if (child.pid !== undefined) sideChannelGone(child.pid)
      this.#disconnected = true
      this.#maybeFinish()
    })
    child.once('exit', (code, signal) => {
      this.#exit = { exitCode: code ?? (signal !== null ? -(constants.signals[signal] ?? 0) : null), signal }
      if (!this.#disconnected) {
        this.#channelTimer = setTimeout(() => {
          this.#disconnected = true
          this.#maybeFinish()
        }, CHANNEL_GRACE_MS)
      }
      this.#maybeFinish()
    })
    child.send({ t: 'init', init: { ...options.init, counters: null } })
  }

  /**
   * [started, finished, item] as the scheduler reads them after a crash. The
   * worker records `finished` only when it sends results, and sends them
   * before it waits for anything (runtime.ts), so when the two differ the
   * last started task is the one that was running and the ones before it
   * finished (their results, if not received, are run again); when they are
   * equal, no task was running.
   */
  get counters(): Int32Array {
    const { started, item, finished } = this.#progressAtExit ?? this.#progress.read()
    return Int32Array.of(started, finished === started ? started : started - 1, item)
  }

  send(message: ToWorker, _transfer?: Transferable[]): void {
    // Transfer lists do not apply between processes: the values are copied.
    this.#child.send(message)
  }

  terminate(): void {
    const child = this.#child
    if (this.#exit !== null || this.#killTimer !== undefined) return
    child.kill('SIGTERM')
    // Kept referenced: the escalation must happen even if nothing else is going on.
    this.#killTimer = setTimeout(() => child.kill('SIGKILL'), TERMINATE_GRACE_MS)
  }

  ref(): void {
    this.#child.ref()
    this.#child.channel?.ref()
    this.#stderr.ref()
  }

  unref(): void {
    this.#child.unref()
    this.#child.channel?.unref()
    this.#stderr.unref()
  }

  #maybeFinish(): void {
    if (this.#reported || this.#exit === null || !this.#disconnected) return
    this.#reported = true
    if (this.#channelTimer !== undefined) clearTimeout(this.#channelTimer)
    if (this.#killTimer !== undefined) clearTimeout(this.#killTimer)
    live.delete(this.#child)
    this.#stderr.whenEnded(STDERR_GRACE_MS, () => {
      this.#progressAtExit = this.#progress.close()
      const exit = this.#exit!
      if (exit.error === undefined) {
        const error = this.#diagnose(exit)
        if (error !== undefined) exit.error = error
      }
      this.#callbacks.onExit(exit)
    })
  }

  /** What a worker that died in native code said on its way out. */
  #diagnose(exit: WorkerExit): Error | undefined {
    const tail = this.#stderr.tail
    if (OUT_OF_MEMORY.test(tail)) {
      const error = new Error(`${this.label} ran out of memory`)
      Object.defineProperty(error, 'code', { value: 'ERR_WORKER_OUT_OF_MEMORY', enumerable: true })
      return error
    }
    if (exit.signal !== null && CRASH_SIGNALS.has(exit.signal) && tail.trim() !== '') {
      const lines = tail.trimEnd().split('\n').slice(-8).join('\n')
      return new Error(`${this.label} was killed by ${exit.signal}; its last words on stderr:\n${lines}`)
    }
    return undefined
  }
}

export const processBackend: Backend = {
  name: 'process',
  capabilities: { sameMachine: true, isolated: true, preemptive: true, sharedMemory: false, ownProcess: true, ownWorkers: true, cancelsRunning: false },
  launch(options, callbacks) {
    return new ProcessWorker(options, callbacks)
  },
}

/**
 * Keeps a child process running: what `multiproc worker` does by default.
 *
 *   supervisor ──spawn──▶ child (the real worker) ──dies──▶ wait (backoff) ──▶ spawn again
 *        │ SIGTERM / SIGINT: SIGTERM to the child, wait for it, exit with its code
 *
 * A child that dies is started again after a delay that doubles with each
 * death in a row (from `initialDelay` up to `maxDelay`), and starts over
 * once a child has run `healthyAfter` ms: a worker that crashes now and then
 * is back at once, one that cannot start does not spin. Three quick deaths
 * in a row are logged as a crash loop, with the delay. A child that exits
 * with a code in `finalCodes` (0: it was stopped on purpose; 2: bad
 * arguments, it would fail the same way again) ends the supervision with
 * that code. With `readyPattern`, the child's stdout passes through the
 * supervisor, which watches for that line: a first child that dies before
 * it printed it ends the supervision with its code, so a worker that cannot
 * start at all (a missing package, a server that refuses it) says so once
 * and exits, as it would unsupervised; only a worker that ran is restarted.
 *
 * The first SIGTERM or SIGINT sends the child SIGTERM (so a terminal's
 * Ctrl-C, which reaches both, stops it once) and waits for it, at most
 * `stopTimeout` ms before SIGKILL; a second one kills it at once. The
 * supervisor then exits with the child's code (128 + the signal's number
 * for a child killed by a signal), or 0 when it was waiting to restart.
 * The child's stdin is a pipe from the supervisor: a child that watches it
 * (MULTIPROC_WORKER_STDIN_WATCH) ends when the supervisor dies, even by
 * SIGKILL, so no orphan keeps running.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'

export interface SupervisorOptions {
  /** The child's executable and arguments. */
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  /** How the child is named in log lines: `worker process`. */
  name: string
  /** Called with each line to log (the supervisor's own output). */
  log(line: string): void
  /** Delay before the first restart, ms. Default 200. */
  initialDelay?: number
  /** The delay doubles up to this, ms. Default 30000. */
  maxDelay?: number
  /** A child that ran this long was healthy: the next delay starts over, ms. Default 30000. */
  healthyAfter?: number
  /** After SIGTERM, how long the child may take to exit before SIGKILL, ms. Default 60000. */
  stopTimeout?: number
  /** Exit codes that end the supervision rather than restart. Default [0, 2]. */
  finalCodes?: readonly number[]
  /** The line the child prints on stdout once it runs (then stdout goes through the supervisor, to `output`). Default: none. */
  readyPattern?: RegExp
  /** Where the child's stdout goes when it passes through (`readyPattern`). Default process.stdout. */
  output?: NodeJS.WritableStream
}

/** The first restart delay, ms, unless the options say otherwise (`multiproc worker --restart-delay`). */
export const DEFAULT_RESTART_DELAY_MS = 200
/** The longest delay between restarts, ms, unless the options say otherwise (`--max-restart-delay`). */
export const DEFAULT_MAX_RESTART_DELAY_MS = 30_000

/** How much of a child's stdout is kept to find the ready line in (it may come in pieces). */
const READY_SCAN_CHARS = 4096

/** Deaths in a row, each soon after its start, from which the supervisor speaks of a crash loop. */
const CRASH_LOOP = 3

/** The restart delays: doubling per quick death, back to the first after a healthy run. */
export class RestartBackoff {
  readonly #initial: number
  readonly #max: number
  readonly #healthyAfter: number
  #delay: number
  /** Deaths in a row, each before `healthyAfter`. */
  streak = 0

  constructor(initial: number, max: number, healthyAfter: number) {
    this.#initial = initial
    this.#max = max
    this.#healthyAfter = healthyAfter
    this.#delay = initial
  }

  /** The child died after running `ranMs`: the delay before the next start. */
  next(ranMs: number): number {
    if (ranMs >= this.#healthyAfter) {
      this.streak = 0
      this.#delay = this.#initial
    }
    this.streak++
    const delay = this.#delay
    this.#delay = Math.min(this.#max, this.#delay * 2)
    return delay
  }
}

/** How a child ended, in words: `exit code 1`, `killed by SIGKILL`. */
export function describeEnd(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exit code ${code}`
}

/** The exit code a shell reports for a child that ended so. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code
  const n = signal === null ? undefined : (constants.signals as Record<string, number>)[signal]
  return n === undefined ? 1 : 128 + n
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`

export class Supervisor {
  readonly #options: Required<Omit<SupervisorOptions, 'env' | 'readyPattern'>> & { env: NodeJS.ProcessEnv | undefined; readyPattern: RegExp | undefined }
  readonly #backoff: RestartBackoff
  #child: ChildProcess | null = null
  #startedAt = 0
  #timer: NodeJS.Timeout | undefined
  #stopping = false
  #killTimer: NodeJS.Timeout | undefined
  #finish!: (code: number) => void
  /** Resolves with the exit code once supervision ended (the child stopped and is not restarted). */
  readonly exited: Promise<number>
  /** Children started so far, the first included. */
  starts = 0
  /** A child printed the ready line (always true without `readyPattern`). */
  #everReady: boolean

  constructor(options: SupervisorOptions) {
    this.#options = {
      env: options.env,
      command: options.command,
      args: options.args,
      name: options.name,
      log: options.log,
      initialDelay: options.initialDelay ?? DEFAULT_RESTART_DELAY_MS,
      maxDelay: options.maxDelay ?? DEFAULT_MAX_RESTART_DELAY_MS,
      healthyAfter: options.healthyAfter ?? 30_000,
      stopTimeout: options.stopTimeout ?? 60_000,
      finalCodes: options.finalCodes ?? [0, 2],
      readyPattern: options.readyPattern,
      output: options.output ?? process.stdout,
    }
    this.#backoff = new RestartBackoff(this.#options.initialDelay, this.#options.maxDelay, this.#options.healthyAfter)
    this.exited = new Promise((resolve) => (this.#finish = resolve))
    this.#everReady = options.readyPattern === undefined
  }

  /** The running child's pid (undefined between two children). */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** Starts the first child. */
  start(): void {
    this.#spawn()
  }

  /**
   * Stops: SIGTERM to the child the first time, SIGKILL the second; no
   * restart. `exited` resolves with the child's code once it is gone.
   */
  stop(reason: string): void {
    const child = this.#child
    if (this.#stopping) {
      if (child !== null) {
        this.#options.log(`${reason} again: killing ${this.#options.name} ${child.pid} now`)
        child.kill('SIGKILL')
      }
      return
    }
    this.#stopping = true
    clearTimeout(this.#timer)
    if (child === null) {
      this.#finish(0)
      return
    }
    this.#options.log(`${reason}: stopping ${this.#options.name} ${child.pid}`)
    child.kill('SIGTERM')
    this.#killTimer = setTimeout(() => {
      this.#options.log(`${this.#options.name} ${child.pid} still running ${seconds(this.#options.stopTimeout)} after SIGTERM: killing it`)
      child.kill('SIGKILL')
    }, this.#options.stopTimeout)
  }

  #spawn(): void {
    const { command, args, env, name, log } = this.#options
    this.starts++
    this.#startedAt = performance.now()
    let child: ChildProcess
    try {
      child = spawn(command, args, { env, stdio: ['pipe', this.#options.readyPattern === undefined ? 'inherit' : 'pipe', 'inherit'] })
    } catch (error) {
      log(`cannot start the ${name}: ${(error as Error).message}`)
      this.#died(null, null, undefined)
      return
    }
    this.#child = child
    let ended = false
    const end = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return
      ended = true
      this.#child = null
      this.#died(code, signal, child.pid)
    }
    child.once('error', (error) => {
      log(`${name}: ${error.message}`)
      // A child that never started may emit no 'close'.
      if (child.pid === undefined) end(null, null)
    })
    // 'close', not 'exit': it comes after the child's last output, so a ready line printed just before a crash counts.
    child.once('close', end)
    if (child.stdout) this.#passThrough(child.stdout)
    if (child.pid !== undefined) log(`${name} ${child.pid} started${this.starts > 1 ? ` (start ${this.starts})` : ''}; supervisor pid ${process.pid}`)
  }

  /** Forwards the child's stdout to `output`, watching it for the ready line until a child printed it. */
  #passThrough(stdout: NodeJS.ReadableStream): void {
    let seen = ''
    stdout.on('data', (chunk: Buffer) => {
      this.#options.output.write(chunk)
      if (this.#everReady) return
      seen = (seen + chunk.toString()).slice(-READY_SCAN_CHARS)
      if (this.#options.readyPattern!.test(seen)) this.#everReady = true
    })
  }

  #died(code: number | null, signal: NodeJS.Signals | null, pid: number | undefined): void {
    const { log, finalCodes } = this.#options
    const name = pid === undefined ? this.#options.name : `${this.#options.name} ${pid}`
    const ran = performance.now() - this.#startedAt
    const how = code === null && signal === null ? 'could not start' : `ended (${describeEnd(code, signal)}) after ${seconds(ran)}`
    if (this.#stopping) {
      clearTimeout(this.#killTimer)
      this.#finish(exitCodeOf(code, signal))
      return
    }
    if (!this.#everReady) {
      log(`${name} ${how} before it was ready: not restarted (it never started; its output above says why)`)
      this.#finish(exitCodeOf(code, signal))
      return
    }
    if (code !== null && finalCodes.includes(code)) {
      log(`${name} ${how}: not restarted (${code === 0 ? 'it was stopped' : 'it would fail the same way again'})`)
      this.#finish(code)
      return
    }
    const delay = this.#backoff.next(ran)
    const streak = this.#backoff.streak
    if (streak >= CRASH_LOOP) {
      log(
        `${name} ${how}. Crash loop: it died ${streak} times in a row, each within ${seconds(this.#options.healthyAfter)} of its start ` +
          `(its output above says why); restarting in ${seconds(delay)}, waiting up to ${seconds(this.#options.maxDelay)} between attempts`,
      )
    } else {
      log(`${name} ${how}; restarting in ${seconds(delay)}`)
    }
    this.#timer = setTimeout(() => this.#spawn(), delay)
  }
}

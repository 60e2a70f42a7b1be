// Test helpers for the cluster backend: a private nats-server with JetStream
// on a free loopback port (or the machine's 127.0.0.1:4222 when the binary is
// missing), and worker processes started from src/cli/worker.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { root } from '../helpers.js'

export const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url))
// The sources under tsx; or compiled, as the benchmarks run this file (from .bench-out/): the worker compiled beside it.
const compiled = !import.meta.url.endsWith('.ts')
const workerCli = fileURLToPath(new URL(`../../src/cli/worker.${compiled ? 'js' : 'ts'}`, import.meta.url))
const loader = compiled ? [] : ['--import', 'tsx']

function hasNatsServer(): boolean {
  return spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

async function waitForPort(port: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await portOpen(port)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nats-server did not listen on ${port} within ${ms} ms`)
}

/** Sleeps synchronously (for process 'exit' handlers, which get no later turn of the event loop). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Reads the first line a child prints (the shell wrapper prints the server's pid). */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const onData = (d: Buffer): void => {
      text += d
      const end = text.indexOf('\n')
      if (end >= 0) {
        child.stdout!.off('data', onData)
        child.off('exit', onExit)
        resolve(text.slice(0, end))
      }
    }
    const onExit = (code: number | null, signal: string | null): void => reject(new Error(`nats-server wrapper exited (${code ?? signal}) before it printed the server's pid`))
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
  })
}

// The server runs under a shell that kills it when this process's pipe closes (or on SIGTERM),
// so a test process killed by its runner leaves no server behind. The shell reaps the server
// (`wait`) before it exits: once the shell is gone, or the server's pid is, the server has
// stopped writing to its store.
const wrapper = 'nats-server "$@" & pid=$!; echo $pid; trap "kill -9 $pid; wait $pid; exit 0" TERM; read _; kill -9 $pid; wait $pid; exit 0'

/** A nats-server of the test, restartable on the same port and store. */
export class TestServer {
  readonly url: string
  readonly port: number
  readonly #storeDir: string | null
  #child: ChildProcess | null = null
  #serverPid: number | null = null
  readonly external: boolean

  private constructor(port: number, storeDir: string | null) {
    this.port = port
    this.url = `nats://127.0.0.1:${port}`
    this.#storeDir = storeDir
    this.external = storeDir === null
  }

  static async start(): Promise<TestServer> {
    if (!hasNatsServer()) return new TestServer(4222, null)
    const server = new TestServer(await freePort(), mkdtempSync(join(tmpdir(), 'multiproc-nats-')))
    await server.restart()
    return server
  }

  /** The running nats-server's pid (null when stopped or external). */
  get serverPid(): number | null {
    return this.#serverPid
  }

  /** The JetStream store directory (null for the machine-wide server). */
  get storeDir(): string | null {
    return this.#storeDir
  }

  /** (Re)starts the server on the same port and store directory. */
  async restart(): Promise<void> {
    if (this.external) throw new Error('cannot restart the machine-wide nats-server')
    await this.kill()
    const child = spawn('sh', ['-c', wrapper, 'sh', '-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.#storeDir!], {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    this.#child = child
    this.#serverPid = Number(await firstLine(child))
    await waitForPort(this.port)
    child.unref()
    ;(child.stdin as unknown as { unref(): void }).unref()
    ;(child.stdout as unknown as { unref(): void }).unref()
  }

  /** Stops the server (SIGKILL: a crash, not a goodbye) and waits until it has exited. */
  async kill(): Promise<void> {
    const child = this.#child
    if (child === null) return
    this.#child = null
    this.#serverPid = null
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.ref()
      child.stdin!.end()
      await exited
    }
  }

  /**
   * Stops the server and removes its store, synchronously (for process 'exit' handlers).
   * The store is removed only once the server's process is gone; never throws: what it
   * could not clean up is written to stderr.
   */
  stopSync(): void {
    const child = this.#child
    const pid = this.#serverPid
    this.#child = null
    this.#serverPid = null
    const left: string[] = []
    if (child !== null && pid !== null) {
      // Kill the server; SIGTERM makes the wrapper reap it (a zombie still has a pid) and exit.
      for (const [target, signal] of [[pid, 'SIGKILL'], [child.pid!, 'SIGTERM']] as const) {
        try {
          process.kill(target, signal)
        } catch {
          // Already gone.
        }
      }
      const end = Date.now() + 10_000
      while (running(pid) && Date.now() < end) sleepSync(5)
      if (running(pid)) left.push(`nats-server (pid ${pid}) still running after 10 s`)
    }
    if (this.#storeDir !== null && existsSync(this.#storeDir)) {
      if (left.length > 0) {
        left.push(`its store ${this.#storeDir} (not removed under a live server)`)
      } else {
        try {
          rmSync(this.#storeDir, { recursive: true, force: true, maxRetries: 3 })
        } catch (error) {
          left.push(`its store ${this.#storeDir} (${(error as Error).message})`)
        }
      }
    }
    if (left.length > 0) process.stderr.write(`TestServer.stopSync() left behind: ${left.join('; ')}\n`)
  }

  async stop(): Promise<void> {
    await this.kill()
    if (this.#storeDir !== null) rmSync(this.#storeDir, { recursive: true, force: true })
  }
}

/**
 * A worker process (`src/cli/worker.ts`), ready once it printed its ready line.
 * It runs the worker in its own process (`--no-supervise`), unless `args`
 * holds `--supervise`: then `pid` is the supervisor's and `workerPids` the
 * pids of the worker processes it started.
 */
export class TestWorker {
  readonly child: ChildProcess
  output = ''
  readonly ready: Promise<void>

  constructor(url: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, allow: string[] = [fixturesDir]) {
    const mode = args.includes('--supervise') ? [] : ['--no-supervise']
    this.child = spawn(process.execPath, [...loader, workerCli, '--nats', url, '--allow', ...allow, ...args, ...mode], {
      cwd: root,
      // The worker exits when this pipe closes (MULTIPROC_WORKER_STDIN_WATCH): no orphans.
      env: { ...process.env, MULTIPROC_WORKER_STDIN_WATCH: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const debugDir = process.env.MULTIPROC_NATS_DEBUG_DIR
    const record = (d: Buffer): void => {
      this.output += d
      if (debugDir !== undefined) appendFileSync(join(debugDir, `worker-${this.child.pid}.log`), d)
    }
    this.child.stdout!.on('data', record)
    this.child.stderr!.on('data', record)
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready after 60 s:\n${this.output}`)), 60_000)
      const onData = (): void => {
        if (/multiproc worker ready/.test(this.output)) {
          clearTimeout(timer)
          resolve()
        }
      }
      this.child.stdout!.on('data', onData)
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${this.output}`))
      })
    })
    this.ready.catch(() => {})
  }

  /** Lets the test process exit while this worker runs (an 'exit' handler then kills it). */
  unref(): void {
    this.child.unref()
    ;(this.child.stdin as unknown as { unref(): void }).unref()
    ;(this.child.stdout as unknown as { unref(): void }).unref()
    ;(this.child.stderr as unknown as { unref(): void }).unref()
  }

  get pid(): number {
    return this.child.pid!
  }

  /** The pids of the worker processes that said they were ready, in order (the supervisor's children when supervised). */
  get workerPids(): number[] {
    return [...this.output.matchAll(/multiproc worker ready: nats worker [^\s,]*:(\d+),/g)].map((m) => Number(m[1]))
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await exited
  }
}

/** Deletes a stream (a test's cleanup); ignores errors. */
export async function deleteStream(url: string, stream: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: url, maxReconnectAttempts: 0 })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.delete(stream).catch(() => {})
  } finally {
    await nc.close()
  }
}

/** Polls until `check` is true, at most `ms` (every `stepMs`); throws naming `what` when it is not. */
export async function until(check: () => boolean, ms: number, what: string, stepMs = 20): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

/** The pid a task wrote to `file` (0 while the file is missing or empty). */
export const readPid = (file: string): number => (existsSync(file) ? Number(readFileSync(file, 'utf8')) || 0 : 0)

/** The pids a logged task wrote to `file`, one per run. */
export const taskRuns = (file: string): number[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [])

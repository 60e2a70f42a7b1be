/**
 * `multiproc worker`: starts a cluster worker.
 *
 *   multiproc worker --nats <url> --allow <module>... [--concurrency N] [--root dir] [--no-supervise]
 *
 * Argument parsing only; the work is NatsWorker's. Runs directly too
 * (`node --import tsx src/cli/worker.ts --nats ...`) when it is the entry module.
 * By default the command supervises the worker (supervisor.ts): it runs this
 * same file again as a child process with `--no-supervise`, and starts it
 * again when it dies; `--no-supervise` runs the worker in this process.
 * The worker prints one `ready` line on stdout once it pulls tasks; SIGTERM
 * or SIGINT stops it gracefully (held tasks finish, up to --grace ms).
 */
import { fileURLToPath, pathToFileURL } from 'node:url'
import { readFileSync } from 'node:fs'
import { DEFAULT_ACK_WAIT_MS, NatsWorker, type NatsWorkerOptions } from '../backends/nats/nats_worker.js'
import { processExecArgv } from '../backends/exec_argv.js'
import { DEFAULT_MAX_RESTART_DELAY_MS, DEFAULT_RESTART_DELAY_MS, Supervisor } from './supervisor.js'

/** This file, as the supervised child runs it. */
const SELF = fileURLToPath(new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))
/** What the worker prints once it pulls tasks (the supervisor waits for it). */
const READY_LINE = /^multiproc worker ready: /m
/** How much longer than --grace the supervisor waits for its child to stop before SIGKILL. */
const STOP_MARGIN_MS = 15_000

const USAGE = `Usage: multiproc worker --nats <url> --allow <module>... [options]

  --nats <url>            NATS server URL (repeat, or comma-separated, for several). Default: $MULTIPROC_NATS_URL or nats://127.0.0.1:4222
  --allow <module>...     modules tasks may name: files, directories (everything under them), file: URLs, package names (required)
  --concurrency <n>       tasks run at once, in worker threads (default: cpuCount())
  --root <dir>            where relative --allow paths start (default: the current directory)
  --prefetch <n>          task messages held at once (default: 2 × concurrency)
  --ack-wait <ms>         how long the tasks of a worker that died wait before another worker runs them
                          (default ${DEFAULT_ACK_WAIT_MS}). Set on the consumer all workers share: the last
                          worker started decides it for all, and each heartbeats every quarter of it
  --max-deliver <n>       deliveries before a task is a poison task, at least; a task's retries raise it
                          to 1 + retries (default 5)
  --session-timeout <ms>  how long an unreachable caller is waited for (default 30000)
  --grace <ms>            on SIGTERM, how long held tasks may finish (default 30000)
  --max-payload-size <bytes>  largest task read and result sent; over max_payload they go through the Object Store (default 1 GiB)
  --no-supervise          run the worker in this process; by default a supervisor process runs it as a
                          child and starts it again when it dies (backoff 0.2 s doubling to 30 s)
  --restart-delay <ms>    the supervisor's first restart delay, doubling per quick death (default ${DEFAULT_RESTART_DELAY_MS})
  --max-restart-delay <ms>  the most the supervisor waits between restarts (default ${DEFAULT_MAX_RESTART_DELAY_MS})
  --metrics [host:]<port> serve Prometheus metrics on /metrics (host default 127.0.0.1; needs prom-client)
  --user <u> --pass <p>   user and password        --token <t>        token
  --nkey <file>           file holding an nkey seed --creds <file>     a .creds file
  --tls-ca <file> --tls-cert <file> --tls-key <file>   TLS
  --prefix <p> --stream <s>   subject prefix and stream name (default multiproc, MULTIPROC)
`

class UsageError extends Error {}

/** The arguments of `multiproc worker`: NatsWorker options, the grace period, whether and how to supervise. */
export interface WorkerArgs {
  options: NatsWorkerOptions
  grace: number
  supervise: boolean
  /** The supervisor's restart delays, ms (absent: its defaults). */
  restart: { initialDelay?: number; maxDelay?: number }
  /** The arguments of the supervised child: these, without the supervisor's own. */
  childArgv: string[]
}

/** Options only the supervisor reads: its child does not get them. */
const SUPERVISOR_FLAGS = new Set(['--supervise', '--restart-delay', '--max-restart-delay'])

/** Parses the arguments of `multiproc worker` into NatsWorker options (and the grace period). */
export function parseWorkerArgs(argv: string[]): WorkerArgs {
  const options: Record<string, unknown> = {}
  const allow: string[] = []
  const servers: string[] = []
  const tls: Record<string, string> = {}
  let grace = 30_000
  let supervise = true
  const restart: WorkerArgs['restart'] = {}
  const childArgv: string[] = []
  const number = (flag: string, value: string | undefined): number => {
    const n = Number(value)
    if (value === undefined || !Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} needs a positive integer, got ${value ?? 'nothing'}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const at = i
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--nats':
        servers.push(...value().split(',').filter(Boolean))
        break
      case '--allow': {
        if (inline !== undefined) allow.push(inline)
        else {
          while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) allow.push(argv[++i]!)
        }
        break
      }
      case '--concurrency':
        options.concurrency = number(flag, value())
        break
      case '--prefetch':
        options.prefetch = number(flag, value())
        break
      case '--ack-wait':
        options.ackWait = number(flag, value())
        break
      case '--max-deliver':
        options.maxDeliver = number(flag, value())
        break
      case '--session-timeout':
        options.sessionTimeout = number(flag, value())
        break
      case '--max-payload-size':
        options.maxPayloadSize = number(flag, value())
        break
      case '--grace':
        grace = number(flag, value())
        break
      case '--supervise':
      case '--no-supervise':
        if (inline !== undefined) throw new UsageError(`${flag} takes no value`)
        supervise = flag === '--supervise'
        break
      case '--restart-delay':
        restart.initialDelay = number(flag, value())
        break
      case '--max-restart-delay':
        restart.maxDelay = number(flag, value())
        break
      case '--root':
        options.root = value()
        break
      case '--metrics':
        options.metrics = metricsFlag(value())
        break
      case '--user':
        options.user = value()
        break
      case '--pass':
        options.pass = value()
        break
      case '--token':
        options.token = value()
        break
      case '--nkey':
        options.nkeySeed = readFileSync(value(), 'utf8').trim()
        break
      case '--creds':
        options.credsFile = value()
        break
      case '--tls-ca':
        tls.caFile = value()
        break
      case '--tls-cert':
        tls.certFile = value()
        break
      case '--tls-key':
        tls.keyFile = value()
        break
      case '--prefix':
        options.prefix = value()
        break
      case '--stream':
        options.stream = value()
        break
      default:
        throw new UsageError(`Unknown argument ${arg}`)
    }
    if (!SUPERVISOR_FLAGS.has(flag)) childArgv.push(...argv.slice(at, i + 1))
  }
  if ((restart.initialDelay !== undefined || restart.maxDelay !== undefined) && !supervise) {
    throw new UsageError('--restart-delay and --max-restart-delay set the supervisor\'s backoff: they do not go with --no-supervise')
  }
  const first = restart.initialDelay ?? DEFAULT_RESTART_DELAY_MS
  const most = restart.maxDelay ?? DEFAULT_MAX_RESTART_DELAY_MS
  if (first > most) {
    const said = (ms: number | undefined, fallback: number): string => (ms === undefined ? `its default ${fallback} ms` : `${ms} ms`)
    throw new UsageError(
      `--restart-delay (${said(restart.initialDelay, DEFAULT_RESTART_DELAY_MS)}) is more than --max-restart-delay (${said(restart.maxDelay, DEFAULT_MAX_RESTART_DELAY_MS)}): ` +
        'lower the one or raise the other',
    )
  }
  if (allow.length === 0) throw new UsageError('--allow needs at least one module: a worker runs only the modules it allows')
  options.allow = allow
  if (servers.length > 0) options.servers = servers
  if (Object.keys(tls).length > 0) options.tls = tls
  return { options: options as unknown as NatsWorkerOptions, grace, supervise, restart, childArgv }
}

/** `--metrics 9464` or `--metrics 0.0.0.0:9464`. */
function metricsFlag(value: string): { port: number; host?: string } {
  const colon = value.lastIndexOf(':')
  const [host, port] = colon >= 0 ? [value.slice(0, colon).replace(/^\[|\]$/g, ''), value.slice(colon + 1)] : [undefined, value]
  const n = Number(port)
  if (!/^\d+$/.test(port) || n > 65535 || host === '') throw new UsageError(`--metrics needs a port or host:port, got ${value}`)
  return host === undefined ? { port: n } : { port: n, host }
}

/** Runs `multiproc worker`; resolves to the exit code once the worker stopped. */
export async function runWorkerCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return 0
  }
  let parsed: WorkerArgs
  let worker: NatsWorker
  try {
    parsed = parseWorkerArgs(argv)
    // Checked here even when supervised: bad options fail once, not in a loop of children.
    worker = new NatsWorker({ ...parsed.options, log: (line) => process.stderr.write(`${line}\n`) })
  } catch (error) {
    process.stderr.write(`multiproc worker: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (parsed.supervise) return supervise(parsed)
  try {
    await worker.start()
  } catch (error) {
    process.stderr.write(`multiproc worker: ${(error as Error).message}\n`)
    return 1
  }
  process.stdout.write(`multiproc worker ready: ${worker.label}, ${worker.concurrency} threads${worker.metricsUrl !== undefined ? `, metrics on ${worker.metricsUrl}` : ''}\n`)
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (): void => {
      if (stopping) return
      stopping = true
      void worker.stop(parsed.grace).then(() => resolve(0))
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    // Supervised workers (tests, process managers that keep a pipe) stop when their supervisor goes.
    if (process.env.MULTIPROC_WORKER_STDIN_WATCH === '1') {
      process.stdin.resume()
      process.stdin.once('close', () => process.exit(1))
      process.stdin.once('end', () => process.exit(1))
    }
    void worker.closed().then(() => {
      if (!stopping) resolve(1)
    })
  })
}

/** Runs the worker as a supervised child process (supervisor.ts); resolves to its exit code. */
function supervise({ childArgv, grace, restart }: WorkerArgs): Promise<number> {
  const supervisor = new Supervisor({
    command: process.execPath,
    args: [...processExecArgv(), SELF, ...childArgv, '--no-supervise'],
    ...restart,
    // The child ends when its stdin (a pipe from here) closes: it does not outlive this process.
    env: { ...process.env, MULTIPROC_WORKER_STDIN_WATCH: '1' },
    name: 'worker process',
    // A worker that never gets ready (NATS unreachable, prom-client missing) exits as unsupervised: once, with its code.
    readyPattern: READY_LINE,
    log: (line) => process.stderr.write(`multiproc worker: ${line}\n`),
    stopTimeout: grace + STOP_MARGIN_MS,
  })
  const onSignal = (signal: NodeJS.Signals): void => supervisor.stop(signal)
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  if (process.env.MULTIPROC_WORKER_STDIN_WATCH === '1') {
    // Watched by whoever started this process: when it goes, so does the worker (its stdin closes with ours).
    process.stdin.resume()
    const gone = (): void => process.exit(1)
    process.stdin.once('close', gone)
    process.stdin.once('end', gone)
  }
  supervisor.start()
  return supervisor.exited.finally(() => {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  })
}

const entry = process.argv[1]
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  runWorkerCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`multiproc worker: ${(error as Error)?.stack ?? error}\n`)
      process.exit(1)
    },
  )
}

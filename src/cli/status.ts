/**
 * `multiproc status`: what runs on a cluster: its workers (host, pid,
 * concurrency, running, done, failed, rate, uptime, last heartbeat), the
 * stream's pending and in-flight counts, and the rates.
 *
 *   multiproc status --nats <url> [--watch [ms]] [--json] [connection options of `multiproc worker`]
 *
 * Argument parsing and rendering only; the sampling is ClusterStatus's
 * (backends/nats/cluster_status.ts). The connection flags are parsed by
 * `multiproc worker`'s own parser, so both commands read them alike.
 */
import { EXIT, UsageError, integerOption } from './args.js'
import { parseWorkerArgs } from './worker.js'
import { connectionOptions, type NatsConnectionOptions } from '../backends/nats/nats_options.js'
import type { ClusterSnapshot, ClusterStatus, WorkerView } from '../backends/nats/cluster_status.js'

const USAGE = `Usage: multiproc status --nats <url> [options]

  --nats <url>            NATS server URL (repeat, or comma-separated, for several). Default: $MULTIPROC_NATS_URL or nats://127.0.0.1:4222
  --json                  print one JSON document (with --watch: one per line, each refresh)
  --watch [ms]            refresh every ms (default 2000) until Ctrl-C; the screen is cleared only on a terminal
  --count <n>             with --watch: stop after n refreshes
  --timeout <ms>          bound of every network wait (default 5000)
  --user <u> --pass <p>   user and password        --token <t>        token
  --nkey <file>           file holding an nkey seed --creds <file>     a .creds file
  --tls-ca <file> --tls-cert <file> --tls-key <file>   TLS
  --prefix <p> --stream <s>   subject prefix and stream name (default multiproc, MULTIPROC)

Workers answer with what they do; one that stopped answering is shown as stale, then dropped.
"pending" and "in flight" count stream messages: one message may carry a burst of tasks.
`

/** The flags `multiproc status` shares with `multiproc worker` (each takes a value). */
const CONNECTION_FLAGS = new Set(['--nats', '--user', '--pass', '--token', '--nkey', '--creds', '--tls-ca', '--tls-cert', '--tls-key', '--prefix', '--stream'])

export interface StatusArgs {
  connection: NatsConnectionOptions
  json: boolean
  /** Refresh period in ms; undefined: one sample. */
  watch: number | undefined
  count: number | undefined
  timeout: number
}

/** Parses the arguments of `multiproc status`. */
export function parseStatusArgs(argv: string[]): StatusArgs {
  const passed: string[] = []
  let json = false
  let watch: number | undefined
  let count: string | undefined
  let timeout: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const [flag, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a value`)
      return v
    }
    if (CONNECTION_FLAGS.has(flag)) passed.push(flag, value())
    else if (flag === '--json' && inline === undefined) json = true
    else if (flag === '--watch') {
      const next = inline ?? (/^\d+$/.test(argv[i + 1] ?? '') ? argv[++i] : undefined)
      watch = next === undefined ? 2_000 : integerOption('watch', next, 100)!
    } else if (flag === '--count') count = value()
    else if (flag === '--timeout') timeout = value()
    else throw new UsageError(`Unknown argument ${arg}`)
  }
  let options: Record<string, unknown>
  try {
    // The worker's parser reads the connection flags (nkey files, TLS, several servers); `--allow` only satisfies it.
    options = parseWorkerArgs([...passed, '--allow', '.']).options as unknown as Record<string, unknown>
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (count !== undefined && watch === undefined) throw new UsageError('--count goes with --watch')
  return {
    connection: connectionOptions(options),
    json,
    watch,
    count: integerOption('count', count, 1),
    timeout: integerOption('timeout', timeout, 1) ?? 5_000,
  }
}

/** Runs `multiproc status`; resolves to the exit code. */
export async function runStatusCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return EXIT.OK
  }
  const args = parseStatusArgs(argv)
  const { ClusterStatus } = await import('../backends/nats/cluster_status.js')
  let status: ClusterStatus
  try {
    status = await ClusterStatus.open({ ...args.connection, timeout: args.timeout, gather: Math.min(1_000, args.timeout) })
  } catch (error) {
    process.stderr.write(`multiproc status: ${(error as Error).message}\n`)
    return EXIT.FAILURE
  }
  try {
    if (args.watch === undefined) {
      const snapshot = await status.sample()
      process.stdout.write(args.json ? `${JSON.stringify(snapshot, null, 2)}\n` : render(snapshot))
      return EXIT.OK
    }
    return await watch(status, args)
  } catch (error) {
    process.stderr.write(`multiproc status: ${(error as Error).message}\n`)
    return EXIT.FAILURE
  } finally {
    await status.close()
  }
}

/** Samples every `args.watch` ms until Ctrl-C (or `--count` samples); a failed sample is shown and retried. */
async function watch(status: ClusterStatus, args: StatusArgs): Promise<number> {
  const tty = process.stdout.isTTY === true && !args.json
  let stop = false
  let wake: () => void = () => {}
  const onSignal = (): void => {
    stop = true
    wake()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    for (let n = 0; !stop && (args.count === undefined || n < args.count); n++) {
      if (n > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, args.watch)
          wake = () => (clearTimeout(timer), resolve())
        })
        if (stop) break
      }
      let text: string
      try {
        const snapshot = await status.sample()
        text = args.json ? `${JSON.stringify(snapshot)}\n` : render(snapshot)
      } catch (error) {
        text = args.json ? `${JSON.stringify({ at: Date.now(), error: (error as Error).message })}\n` : `multiproc status: ${(error as Error).message}\n`
      }
      // Home and clear, then the table: on a terminal only, so that a redirected output stays plain text.
      process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : n > 0 && !args.json ? `\n${text}` : text)
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return EXIT.OK
}

/** The snapshot as a table. */
export function render(s: ClusterSnapshot): string {
  const q = s.queue
  const lines = [`${s.server}  stream ${q.stream}  ${new Date(s.at).toISOString()}`]
  const consumer = q.consumerExists
    ? `${q.pending} pending, ${q.inFlight} in flight, ${q.redelivered} redelivered, ${q.waiting} waiting pulls (consumer ${q.consumer}, ack wait ${q.ackWait} ms)`
    : `consumer ${q.consumer} not created yet (no worker started)`
  lines.push(`queue: ${q.messages} messages (${bytes(q.bytes)}); ${consumer}`)
  const t = s.totals
  lines.push(
    `workers: ${t.workers}${t.stale > 0 ? ` (+${t.stale} stale)` : ''}, ${t.concurrency} threads, ${t.running} running, ${t.succeeded} done, ${t.failed} failed${t.retried > 0 ? ` (${t.retried} run again under retryOn)` : ''}, ${t.rate} tasks/s`,
  )
  if (s.workers.length === 0) return `${lines.join('\n')}\n`
  const header = ['HOST', 'PID', 'THREADS', 'RUNNING', 'DONE', 'FAILED', 'REDELIV', 'TASKS/S', 'UPTIME', 'HEARTBEAT', 'STATE']
  const rows = s.workers.map((w: WorkerView) => [
    w.host,
    w.id.includes('#') ? `${w.pid}${w.id.slice(w.id.indexOf('#'))}` : String(w.pid),
    String(w.concurrency),
    String(w.running),
    String(w.succeeded),
    String(w.failed),
    String(w.redelivered),
    w.rate.toFixed(1),
    // A silent worker's uptime stops at its last record.
    duration(w.uptime + (w.stale || w.state === 'stopped' ? 0 : w.seen)),
    w.heartbeatAge < 0 ? '-' : `${duration(w.heartbeatAge)} ago`,
    w.stale ? `stale (silent ${duration(w.seen)})` : w.state,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')
  lines.push('', line(header), ...rows.map(line))
  return `${lines.join('\n')}\n`
}

function duration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`
  const sec = Math.floor(ms / 1000)
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s`
  if (sec < 86_400) return `${Math.floor(sec / 3600)}h${String(Math.floor(sec / 60) % 60).padStart(2, '0')}m`
  return `${Math.floor(sec / 86_400)}d${String(Math.floor(sec / 3600) % 24).padStart(2, '0')}h`
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/**
 * `multiproc info`: what this machine offers. The CPU count and the limit
 * that decided it, the backends, and whether a NATS server answers (a TCP
 * connect and its INFO line: no client library needed).
 */
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import { getAllStartMethods } from '../context.js'
import { cpuInfo, type CpuInfo } from '../cpu_count.js'
import { EXIT, UsageError, integerOption, maxPositionals, parseCommand } from './args.js'
import { DEFAULT_NATS_URL } from './backend.js'
import { nativeShmStatus, type NativeShmStatus } from '../shared_memory/native.js'

export const INFO_USAGE = `Usage: multiproc info [options]

Prints cpuCount() and the limit that decided it (affinity, cgroup quota,
MULTIPROC_CPU_COUNT), the available backends, and whether NATS answers.

Options:
  --nats <url>        NATS server to probe (default ${DEFAULT_NATS_URL})
  --timeout <ms>      how long to wait for NATS (default 1000)
  --json              print one JSON object
  -h, --help          this help`

const OPTIONS = {
  nats: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Packages that provide a NATS client, any of which makes the nats backend usable. */
const NATS_CLIENTS = ['@nats-io/transport-node', 'nats']

export interface NatsProbe {
  url: string
  reachable: boolean
  /** From the server's INFO line. */
  version?: string
  jetstream?: boolean
  error?: string
}

export interface InfoReport {
  version: string
  node: string
  cpu: CpuInfo
  backends: { name: string; available: boolean; note: string }[]
  nats: NatsProbe
  /** Which shared memory implementation is active: the prebuilt or compiled addon (with its file), or the fallback (with the reason). */
  nativeSharedMemory: NativeShmStatus
}


function resolvable(name: string): boolean {
  for (const base of [`${process.cwd()}/noop.js`, import.meta.url]) {
    try {
      createRequire(base).resolve(name)
      return true
    } catch {
      // try the next base
    }
  }
  return false
}

/** Connects to a NATS server and reads its INFO line. Never throws; gives up after `timeoutMs`. */
export function probeNats(url: string, timeoutMs: number): Promise<NatsProbe> {
  let host = '127.0.0.1'
  let port = 4222
  try {
    const parsed = new URL(url.includes('://') ? url : `nats://${url}`)
    host = parsed.hostname.replace(/^\[|\]$/g, '') || host
    port = parsed.port === '' ? 4222 : Number(parsed.port)
  } catch {
    return Promise.resolve({ url, reachable: false, error: 'not a URL' })
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    let buffer = ''
    let finished = false
    const finish = (probe: NatsProbe): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
      resolve(probe)
    }
    const timer = setTimeout(() => finish({ url, reachable: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('data', (data: string) => {
      buffer += data
      const end = buffer.indexOf('\r\n')
      if (end < 0) {
        if (buffer.length > 64 * 1024) finish({ url, reachable: false, error: 'not a NATS server (no INFO line)' })
        return
      }
      const line = buffer.slice(0, end)
      if (!line.startsWith('INFO ')) return finish({ url, reachable: false, error: 'not a NATS server (no INFO line)' })
      try {
        const info = JSON.parse(line.slice(5)) as { version?: string; jetstream?: boolean }
        finish({ url, reachable: true, version: info.version, jetstream: info.jetstream === true })
      } catch {
        finish({ url, reachable: true })
      }
    })
    socket.on('error', (error: NodeJS.ErrnoException) => finish({ url, reachable: false, error: error.code ?? error.message }))
    socket.on('close', () => finish({ url, reachable: false, error: 'connection closed' }))
  })
}

export async function infoReport(natsUrl: string, timeoutMs: number, version: string): Promise<InfoReport> {
  const natsClient = NATS_CLIENTS.find(resolvable)
  return {
    version,
    node: process.version,
    cpu: cpuInfo(),
    backends: [
      { name: 'thread', available: true, note: 'worker_threads (default)' },
      { name: 'process', available: true, note: 'child processes' },
      { name: 'inline', available: true, note: 'the calling thread, one task at a time' },
      {
        name: 'nats',
        available: natsClient !== undefined,
        note:
          (natsClient !== undefined ? `cluster, client ${natsClient}` : 'cluster; no NATS client package installed') +
          ((getAllStartMethods() as string[]).includes('nats') ? '' : '; not in this build of multiproc'),
      },
    ],
    nats: await probeNats(natsUrl, timeoutMs),
    nativeSharedMemory: nativeShmStatus,
  }
}

function describeLimit(cpu: CpuInfo): string {
  switch (cpu.decidedBy) {
    case 'env':
      return `MULTIPROC_CPU_COUNT=${cpu.override}`
    case 'affinity':
      return `CPU affinity (${cpu.affinity} CPUs)${cpu.quota === null ? ', no cgroup quota' : `; the cgroup quota allows ${cpu.quota.cpus.toFixed(2)}`}`
    default:
      return `${cpu.decidedBy} quota ${cpu.quota!.quotaUs}/${cpu.quota!.periodUs} us = ${cpu.quota!.cpus.toFixed(2)} CPUs (${cpu.quota!.file}); affinity allows ${cpu.affinity}`
  }
}

export async function runInfoCommand(argv: string[], packageVersion = 'unknown'): Promise<number> {
  const { values, positionals } = parseCommand('info', argv, OPTIONS)
  if (values.help) {
    process.stdout.write(`${INFO_USAGE}\n`)
    return EXIT.OK
  }
  maxPositionals('info', positionals, 0)
  const timeout = integerOption('timeout', values.timeout, 1, 60_000) ?? 1000
  const url = values.nats ?? DEFAULT_NATS_URL
  if (url === '') throw new UsageError('Expected `--nats` to be a URL such as nats://127.0.0.1:4222, got ""')
  const report = await infoReport(url, timeout, packageVersion)
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    return EXIT.OK
  }
  const rows: [string, string][] = [
    ['multiproc', `${report.version} on Node.js ${report.node}`],
    ['cpuCount()', `${report.cpu.count}, decided by ${describeLimit(report.cpu)}`],
    ...report.backends.map((b): [string, string] => [`backend ${b.name}`, `${b.available ? 'available' : 'not available'}: ${b.note}`]),
    [
      'nats',
      report.nats.reachable
        ? `${report.nats.url} reachable${report.nats.version ? `, server ${report.nats.version}` : ''}${report.nats.jetstream ? ', JetStream on' : ''}`
        : `${report.nats.url} not reachable (${report.nats.error})`,
    ],
  ]
  const shm = report.nativeSharedMemory
  rows.push([
    'shared memory',
    shm.source === 'fallback' ? `fallback (SharedArrayBuffer, threads only): ${shm.reason}` : `POSIX addon, ${shm.source} (${shm.file})`,
  ])
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}${v}`).join('\n') + '\n')
  return EXIT.OK
}

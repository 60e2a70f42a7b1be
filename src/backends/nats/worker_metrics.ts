/**
 * A cluster worker's Prometheus metrics, served on `/metrics` by
 * `prom-client` (an optional peer: loaded only when metrics are asked for).
 *
 * Each worker has a Registry of its own, not prom-client's global one, so
 * two workers in one process (or an application that uses the global
 * registry) do not collide. The counters are read from WorkerActivity when
 * Prometheus scrapes; only the duration histogram is fed per task.
 */
import { createServer, type Server } from 'node:http'
import { ClusterError, invalidArgType } from '../../errors.js'
import { knownKeys, plainObject, string } from '../../internal/validate.js'
import type { WorkerActivity } from './worker_activity.js'

/** Where a worker serves its Prometheus metrics. */
export interface WorkerMetricsOptions {
  /** TCP port of the `/metrics` endpoint (0: any free port). */
  port: number
  /** Address to listen on. Default `127.0.0.1`: set `0.0.0.0` for a scraper on another host (a pod's). */
  host?: string
}

/** Validates the `metrics` option of NatsWorker. */
export function metricsOptions(value: unknown): Required<WorkerMetricsOptions> {
  const opts = plainObject('metrics', value)
  knownKeys('metrics', opts, ['port', 'host'])
  const port = opts.port
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidArgType(`Expected \`metrics.port\` to be a TCP port (an integer from 0 to 65535), got ${String(port)}`)
  }
  const host = opts.host === undefined ? '127.0.0.1' : string('metrics.host', opts.host)
  return { port, host }
}

// In a variable, like the NATS clients (nats_client.ts): an optional peer a bundler must leave to Node.
const PROM_CLIENT: string = 'prom-client'

type PromClient = typeof import('prom-client')

async function loadPromClient(): Promise<PromClient> {
  try {
    const mod = (await import(PROM_CLIENT)) as PromClient & { default?: PromClient }
    return mod.default ?? mod
  } catch (error) {
    throw new ClusterError('Worker metrics need the Prometheus client: npm install prom-client', { cause: error })
  }
}

export interface WorkerInfo {
  id: string
  host: string
  pid: number
  version: string
  stream: string
  concurrency: number
}

/** The `/metrics` endpoint of one worker. */
export class WorkerMetrics {
  readonly #server: Server
  readonly #registry: import('prom-client').Registry
  readonly #activity: WorkerActivity
  /** `http://host:port/metrics`, once listening. */
  readonly url: string

  private constructor(server: Server, registry: import('prom-client').Registry, activity: WorkerActivity, url: string) {
    this.#server = server
    this.#registry = registry
    this.#activity = activity
    this.url = url
  }

  /** Loads prom-client, registers the metrics and listens. */
  static async start(options: Required<WorkerMetricsOptions>, activity: WorkerActivity, info: WorkerInfo): Promise<WorkerMetrics> {
    const prom = await loadPromClient()
    const registry = new prom.Registry()
    registry.setDefaultLabels({ worker: info.id })
    prom.collectDefaultMetrics({ register: registry })
    // A counter read from the activity at scrape time: it only ever grows by what the activity grew.
    const counter = (name: string, help: string, read: () => number): void => {
      let seen = 0
      new prom.Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const now = read()
          if (now > seen) this.inc(now - seen)
          seen = now
        },
      })
    }
    counter('multiproc_worker_tasks_started_total', 'Tasks handed to the worker threads', () => activity.started)
    counter('multiproc_worker_tasks_succeeded_total', 'Tasks that returned', () => activity.succeeded)
    counter('multiproc_worker_tasks_failed_total', 'Tasks that threw, could not run, were refused or were poison tasks', () => activity.failed)
    counter('multiproc_worker_tasks_dropped_total', 'Tasks stopped or dropped because their caller cancelled them or left', () => activity.dropped)
    counter('multiproc_worker_tasks_retried_total', "Tasks started that were a caller's run again of a task that threw an error its retryOn names", () => activity.retried)
    counter('multiproc_worker_messages_total', 'Task messages received (one carries a task or a burst of them)', () => activity.messages)
    counter('multiproc_worker_messages_redelivered_total', 'Task messages received again (JetStream delivery count above 1)', () => activity.redelivered)
    counter('multiproc_worker_messages_direct_total', 'Task messages a caller handed to this worker directly, around the stream, while it was idle', () => activity.direct)
    counter('multiproc_worker_heartbeats_total', 'Heartbeat rounds (in-progress signals to JetStream, pings to callers)', () => activity.heartbeats)
    new prom.Gauge({
      name: 'multiproc_worker_last_heartbeat_seconds',
      help: 'When the last heartbeat round ran (Unix time, seconds)',
      registers: [registry],
      collect() {
        this.set(activity.heartbeatAt / 1000)
      },
    })
    new prom.Gauge({
      name: 'multiproc_worker_tasks_in_flight',
      help: 'Tasks started and not finished (running, or waiting for a thread of this worker)',
      registers: [registry],
      collect() {
        this.set(activity.running)
      },
    })
    new prom.Gauge({ name: 'multiproc_worker_concurrency', help: 'Tasks run at once (threads)', registers: [registry] }).set(info.concurrency)
    const infoGauge = new prom.Gauge({
      name: 'multiproc_worker_info',
      help: 'The worker: host, pid, multiproc version, stream (value 1)',
      labelNames: ['host', 'pid', 'version', 'stream'],
      registers: [registry],
    })
    infoGauge.set({ host: info.host, pid: String(info.pid), version: info.version, stream: info.stream }, 1)
    const histogram = new prom.Histogram({
      name: 'multiproc_worker_task_duration_seconds',
      help: 'How long tasks ran on their thread, as the worker measured them (a map chunk is one task)',
      labelNames: ['outcome'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300],
      registers: [registry],
    })
    const succeeded = histogram.labels('succeeded')
    const failed = histogram.labels('failed')
    activity.observer = (ok, ms) => {
      if (ms >= 0) (ok ? succeeded : failed).observe(ms / 1000)
    }

    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end()
        return
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: the metrics are at /metrics\n')
        return
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error)?.message ?? error}\n`),
      )
    })
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(options.port, options.host, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (error) {
      activity.observer = null
      throw new ClusterError(`Cannot serve worker metrics on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error })
    }
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : options.port
    const host = options.host.includes(':') ? `[${options.host}]` : options.host
    return new WorkerMetrics(server, registry, activity, `http://${host}:${port}/metrics`)
  }

  /** The metrics in Prometheus' text format (what `/metrics` serves). */
  text(): Promise<string> {
    return this.#registry.metrics()
  }

  /** Stops serving; bounded: open scrapes are cut after a second. */
  async close(): Promise<void> {
    this.#activity.observer = null
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    this.#server.closeIdleConnections()
    const timer = setTimeout(() => this.#server.closeAllConnections(), 1_000)
    await closed
    clearTimeout(timer)
  }
}

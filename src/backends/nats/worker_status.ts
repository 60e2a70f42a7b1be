/**
 * A cluster worker says what it is doing, over core NATS:
 *
 *   multiproc status ──request {prefix}.status──▶ every worker ──reply: its record──▶ multiproc status
 *   worker ──every `interval` ms, and on stop──▶ {prefix}.status.w (a watcher subscribes; nobody needs to)
 *
 * Core NATS rather than a JetStream key-value bucket: the KV client
 * (`@nats-io/kv`) is one more optional package, and request/reply needs
 * no state on the server, so a dead worker simply stops answering and ages
 * out of what a watcher holds (cluster_status.ts). A record is JSON, so
 * `nats req multiproc.status '' --replies 0` or any other tool reads it.
 * The records are built from the counters of WorkerActivity when asked,
 * never on the task path.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { NatsConnection } from './nats_client.js'
import type { WorkerActivity } from './worker_activity.js'

/** Bumped whenever a status record changes shape. */
export const STATUS_RECORD_VERSION = 1

/** What a worker says of itself: `multiproc status --json` lists these. */
export interface WorkerStatusRecord {
  v: number
  /** `host:pid` as in the results' worker name (`#n` added for a second worker in one process). */
  id: string
  host: string
  pid: number
  /** The multiproc version the worker runs. */
  version: string
  stream: string
  /** 'stopping': held tasks finish, no new ones are taken; 'stopped': the last record. */
  state: 'running' | 'stopping' | 'stopped'
  /** Tasks run at once (threads). */
  concurrency: number
  /** Task messages held at once. */
  prefetch: number
  /** Tasks started and not finished (running, or waiting for a thread of this worker). */
  running: number
  /** Tasks handed to the threads since start. */
  started: number
  /** Tasks that returned. */
  succeeded: number
  /** Tasks that threw, could not run, were refused or were poison tasks. */
  failed: number
  /** Tasks stopped or dropped (cancelled, or their caller left). */
  dropped: number
  /** Task messages received. */
  messages: number
  /** Task messages received again (their delivery count above 1). */
  redelivered: number
  /** Tasks that were a caller's run again of a task that threw an error its `retryOn` names. */
  retried: number
  /** Heartbeat rounds (in-progress signals to JetStream). */
  heartbeats: number
  /** Tasks finished per second over the last interval. */
  rate: number
  /** When the worker started (epoch ms, worker's clock). */
  startedAt: number
  /** Milliseconds since start. */
  uptime: number
  /** When this record was made (epoch ms, worker's clock). */
  at: number
  /** When the last heartbeat round ran (epoch ms, worker's clock; 0: none yet). */
  heartbeatAt: number
  /** Milliseconds between two records the worker publishes. */
  interval: number
  /** The worker's Prometheus endpoint, when it serves one. */
  metrics?: string
}

/** The subjects of status records under `prefix`. */
export function statusSubjects(prefix: string): { request: string; records: string } {
  return { request: `${prefix}.status`, records: `${prefix}.status.w` }
}

let instances = 0
let packageVersion: string | undefined

/** The multiproc version, read once (src/backends/nats and dist/backends/nats are both three levels down). */
export function multiprocVersion(): string {
  if (packageVersion === undefined) {
    try {
      packageVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
    } catch {
      packageVersion = 'unknown'
    }
  }
  return packageVersion
}

export interface WorkerStatusOptions {
  prefix: string
  stream: string
  activity: WorkerActivity
  concurrency: number
  prefetch: number
  /** Milliseconds between two published records. */
  interval: number
  /** The metrics endpoint's URL, once it listens. */
  metrics: () => string | undefined
}

/** Publishes a worker's records and answers `multiproc status`. */
export class WorkerStatus {
  readonly #options: WorkerStatusOptions
  readonly #subjects: { request: string; records: string }
  readonly id: string
  readonly #host = hostname()
  #state: WorkerStatusRecord['state'] = 'running'
  #timer: NodeJS.Timeout | undefined
  #nc: NatsConnection | null = null
  #subscription: { unsubscribe(): void } | null = null
  #rate = 0
  #lastFinished = 0
  #lastAt: number

  constructor(options: WorkerStatusOptions) {
    this.#options = options
    this.#subjects = statusSubjects(options.prefix)
    instances++
    this.id = `${this.#host}:${process.pid}${instances > 1 ? `#${instances}` : ''}`
    this.#lastAt = options.activity.startedAt
  }

  /** Answers status requests on `nc` and publishes a record every interval. */
  start(nc: NatsConnection): void {
    this.#nc = nc
    this.#subscription = nc.subscribe(this.#subjects.request, {
      callback: (error, msg) => {
        if (error === null && msg.reply) msg.respond(this.#encoded())
      },
    })
    this.#timer = setInterval(() => this.#publish(), this.#options.interval)
    this.#timer.unref()
    this.#publish()
  }

  /** The worker takes no new tasks: says so at once. */
  stopping(): void {
    if (this.#state !== 'running') return
    this.#state = 'stopping'
    this.#publish()
  }

  /** The last record ('stopped'); no answers after it. Call before the connection drains, so it is sent. */
  stop(): void {
    clearInterval(this.#timer)
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    this.#publish()
    this.#subscription?.unsubscribe()
    this.#subscription = null
  }

  /** This worker's record now. */
  record(): WorkerStatusRecord {
    const a = this.#options.activity
    const now = Date.now()
    const metrics = this.#options.metrics()
    return {
      v: STATUS_RECORD_VERSION,
      id: this.id,
      host: this.#host,
      pid: process.pid,
      version: multiprocVersion(),
      stream: this.#options.stream,
      state: this.#state,
      concurrency: this.#options.concurrency,
      prefetch: this.#options.prefetch,
      running: a.running,
      started: a.started,
      succeeded: a.succeeded,
      failed: a.failed,
      dropped: a.dropped,
      messages: a.messages,
      redelivered: a.redelivered,
      retried: a.retried,
      heartbeats: a.heartbeats,
      // Before the first interval ends: the rate since start.
      rate: this.#lastAt === a.startedAt ? rate(a.succeeded + a.failed, now - a.startedAt) : this.#rate,
      startedAt: a.startedAt,
      uptime: now - a.startedAt,
      at: now,
      heartbeatAt: a.heartbeatAt,
      interval: this.#options.interval,
      ...(metrics !== undefined ? { metrics } : {}),
    }
  }

  #encoded(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.record()))
  }

  #publish(): void {
    const a = this.#options.activity
    const now = Date.now()
    const finished = a.succeeded + a.failed
    if (now - this.#lastAt >= this.#options.interval / 2) {
      this.#rate = rate(finished - this.#lastFinished, now - this.#lastAt)
      this.#lastFinished = finished
      this.#lastAt = now
    }
    const nc = this.#nc
    if (nc === null || nc.isClosed()) return
    try {
      nc.publish(this.#subjects.records, this.#encoded())
    } catch {
      // Draining or closed meanwhile: the record is not needed.
    }
  }
}

function rate(tasks: number, ms: number): number {
  return ms <= 0 ? 0 : Math.round((tasks * 1000 * 10) / ms) / 10
}

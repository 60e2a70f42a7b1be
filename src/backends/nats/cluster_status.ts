/**
 * What runs on a cluster, as `multiproc status` shows it: the workers'
 * status records (worker_status.ts) gathered by one request, and the
 * stream's and the workers' consumer's counts from JetStream.
 *
 *   ClusterStatus ──request {prefix}.status, replies for ≤ `gather` ms──▶ workers
 *                 ◀──subscription {prefix}.status.w (records between samples, a worker's last one)
 *                 ──JetStream API──▶ stream info (messages), consumer info (pending, ack pending, redelivered)
 *
 * A watcher keeps what it heard across samples: a worker silent for more
 * than twice its interval is marked stale (dead, hung or cut off), and one
 * silent for `forgetAfter` ms is dropped, as is a stopped one. Every wait
 * is bounded by `timeout`.
 */
import { ClusterError } from '../../errors.js'
import { loadNats, connectNats, type NatsConnection } from './nats_client.js'
import type { NatsConnectionOptions } from './nats_options.js'
import { names, type Names } from './protocol.js'
import { STATUS_RECORD_VERSION, statusSubjects, type WorkerStatusRecord } from './worker_status.js'

/** A worker as the status shows it: its last record, and how long ago it came. */
export interface WorkerView extends WorkerStatusRecord {
  /** Milliseconds since its last record arrived (this machine's clock). */
  seen: number
  /** Milliseconds since its last heartbeat round, as of now (-1: none yet). */
  heartbeatAge: number
  /** Silent for more than twice its interval: dead, hung or cut off. */
  stale: boolean
}

/** The stream and the workers' consumer, as JetStream counts them. */
export interface QueueView {
  stream: string
  /** Task messages in the stream: waiting, or held by a worker and not acked yet (one message may carry a burst of tasks). */
  messages: number
  bytes: number
  consumer: string
  /** Whether the workers' consumer exists (a worker created it); the counts below are 0 when it does not. */
  consumerExists: boolean
  /** Messages no worker took yet. */
  pending: number
  /** Messages held by workers, not acked yet. */
  inFlight: number
  /** Messages delivered more than once and not acked yet. */
  redelivered: number
  /** Pull requests of workers waiting for messages. */
  waiting: number
  /** The consumer's ack wait in ms (0 without a consumer): how long a dead worker's tasks wait; the last worker started set it. */
  ackWait: number
}

/** One sample of the cluster's state (`multiproc status --json`). */
export interface ClusterSnapshot {
  /** When it was taken (epoch ms). */
  at: number
  /** The server answering. */
  server: string
  queue: QueueView
  workers: WorkerView[]
  totals: {
    workers: number
    stale: number
    concurrency: number
    running: number
    succeeded: number
    failed: number
    redelivered: number
    /** Tasks the workers ran again for callers whose `retryOn` named the error they threw. */
    retried: number
    /** Tasks finished per second, summed over the workers' last intervals. */
    rate: number
  }
}

export interface ClusterStatusOptions extends NatsConnectionOptions {
  /** Bound of every network wait (connect, JetStream API), in ms. Default 5000. */
  timeout?: number
  /** How long the workers' answers are gathered at most, in ms. Default 1000. */
  gather?: number
  /** A silent or stopped worker is dropped after this many ms. Default 30000. */
  forgetAfter?: number
}

interface Heard {
  record: WorkerStatusRecord
  /** When it arrived (this machine's clock, performance.now()). */
  at: number
}

/** A connection that samples the cluster's state; keeps what it heard of the workers across samples. */
export class ClusterStatus {
  readonly #nc: NatsConnection
  readonly #names: Names
  readonly #timeout: number
  readonly #gather: number
  readonly #forgetAfter: number
  readonly #heard = new Map<string, Heard>()
  #jsm: import('@nats-io/jetstream').JetStreamManager | null = null

  private constructor(nc: NatsConnection, n: Names, timeout: number, gather: number, forgetAfter: number) {
    this.#nc = nc
    this.#names = n
    this.#timeout = timeout
    this.#gather = gather
    this.#forgetAfter = forgetAfter
  }

  /** Connects (bounded by `timeout`) and listens to the workers' records. */
  static async open(options: ClusterStatusOptions): Promise<ClusterStatus> {
    const { timeout = 5_000, gather = 1_000, forgetAfter = 30_000, ...connection } = options
    const nc = await connectNats(connection, 'multiproc status', timeout)
    const status = new ClusterStatus(nc, names(connection.prefix ?? 'multiproc', connection.stream ?? 'MULTIPROC'), timeout, gather, forgetAfter)
    nc.subscribe(statusSubjects(status.#names.prefix).records, { callback: (error, msg) => (error === null ? status.#hear(msg.data) : undefined) })
    return status
  }

  /** Asks every worker and JetStream; resolves within about `gather` + `timeout` ms. */
  async sample(): Promise<ClusterSnapshot> {
    const [queue] = await Promise.all([this.#queue(), this.#ask()])
    const now = performance.now()
    const workers: WorkerView[] = []
    for (const [id, { record, at }] of this.#heard) {
      const seen = Math.round(now - at)
      if (seen > this.#forgetAfter || (record.state === 'stopped' && seen > Math.min(this.#forgetAfter, 2 * record.interval))) {
        this.#heard.delete(id)
        continue
      }
      workers.push({
        ...record,
        seen,
        heartbeatAge: record.heartbeatAt === 0 ? -1 : record.at - record.heartbeatAt + seen,
        stale: record.state !== 'stopped' && seen > 2 * record.interval,
      })
    }
    workers.sort((a, b) => (a.host === b.host ? a.pid - b.pid || a.id.localeCompare(b.id) : a.host.localeCompare(b.host)))
    const live = workers.filter((w) => !w.stale && w.state !== 'stopped')
    // A record from a worker of an earlier version has no `retried`.
    const sum = (key: 'concurrency' | 'running' | 'succeeded' | 'failed' | 'redelivered' | 'retried' | 'rate'): number => live.reduce((n, w) => n + (w[key] ?? 0), 0)
    return {
      at: Date.now(),
      server: this.#nc.getServer(),
      queue,
      workers,
      totals: {
        workers: live.length,
        stale: workers.filter((w) => w.stale).length,
        concurrency: sum('concurrency'),
        running: sum('running'),
        succeeded: sum('succeeded'),
        failed: sum('failed'),
        redelivered: sum('redelivered'),
        retried: sum('retried'),
        rate: Math.round(sum('rate') * 10) / 10,
      },
    }
  }

  /** Closes the connection (bounded by `timeout`). */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#nc.close().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, this.#timeout)))])
    clearTimeout(timer)
  }

  #hear(data: Uint8Array): void {
    let record: WorkerStatusRecord
    try {
      record = JSON.parse(new TextDecoder().decode(data)) as WorkerStatusRecord
    } catch {
      return
    }
    if (record?.v !== STATUS_RECORD_VERSION || typeof record.id !== 'string' || record.stream !== this.#names.stream) return
    const known = this.#heard.get(record.id)
    // Replies and published records may cross: keep the newer (the worker's own clock orders them).
    if (known !== undefined && known.record.at > record.at) return
    this.#heard.set(record.id, { record, at: performance.now() })
  }

  /** Gathers the workers' answers: until none came for a while after the first, or `gather` ms. */
  async #ask(): Promise<void> {
    try {
      const replies = await this.#nc.requestMany(statusSubjects(this.#names.prefix).request, new Uint8Array(0), {
        strategy: 'stall',
        stall: Math.min(300, this.#gather),
        maxWait: this.#gather,
      })
      for await (const msg of replies) this.#hear(msg.data)
    } catch (error) {
      // No worker listens (the server says so at once), or the connection went away: nothing heard.
      if (this.#nc.isClosed()) throw new ClusterError(`The connection to NATS closed: ${(error as Error)?.message ?? error}`, { cause: error })
    }
  }

  async #queue(): Promise<QueueView> {
    const { js } = await loadNats()
    const { stream, consumer } = this.#names
    const jsm = (this.#jsm ??= await js.jetstreamManager(this.#nc, { timeout: this.#timeout }).catch((error: unknown) => {
      throw new ClusterError(`JetStream does not answer on ${this.#nc.getServer()}: ${(error as Error)?.message ?? error}. Is the server started with JetStream (-js)?`, { cause: error })
    }))
    let info
    try {
      info = await jsm.streams.info(stream)
    } catch (error) {
      if (notFound(error)) {
        throw new ClusterError(
          `Stream ${stream} does not exist on ${this.#nc.getServer()}: no worker or caller has used this server yet, or they use another --stream / --prefix`,
          { cause: error },
        )
      }
      throw new ClusterError(`Cannot read JetStream stream ${stream}: ${(error as Error)?.message ?? error}`, { cause: error })
    }
    const view: QueueView = {
      stream,
      messages: info.state.messages,
      bytes: info.state.bytes,
      consumer,
      consumerExists: false,
      pending: info.state.messages,
      inFlight: 0,
      redelivered: 0,
      waiting: 0,
      ackWait: 0,
    }
    try {
      const ci = await jsm.consumers.info(stream, consumer)
      Object.assign(view, {
        consumerExists: true,
        pending: ci.num_pending,
        inFlight: ci.num_ack_pending,
        redelivered: ci.num_redelivered,
        waiting: ci.num_waiting,
        ackWait: Math.round((ci.config.ack_wait ?? 0) / 1_000_000),
      })
    } catch (error) {
      if (!notFound(error)) throw new ClusterError(`Cannot read JetStream consumer ${consumer}: ${(error as Error)?.message ?? error}`, { cause: error })
    }
    return view
  }
}

function notFound(error: unknown): boolean {
  const e = error as { code?: unknown; message?: string }
  return /not found/i.test(String(e?.message)) || e?.code === 404 || e?.code === '404'
}

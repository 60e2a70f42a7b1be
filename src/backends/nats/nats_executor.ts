/**
 * NatsExecutor: the Executor API over a NATS JetStream cluster. It is the
 * submission layer every executor shares (futures/task_executor.ts) over a
 * ClusterScheduler (cluster_scheduler.ts); this file checks its options.
 */
import { randomBytes } from 'node:crypto'
import { UnsupportedBackendError } from '../../errors.js'
import { knownKeys, plainObject, positiveInteger, rangeFail, timeoutMs, typeFail } from '../../internal/validate.js'
import { SHARED_OPTION_KEYS, TaskExecutor, checkSharedOptions } from '../../futures/task_executor.js'
import type { ExecutorStats } from '../../futures/stats.js'
import { CONNECTION_KEYS, checkConnectionOptions, connectionOptions, type NatsConnectionOptions } from './nats_options.js'
import { ClusterScheduler } from './cluster_scheduler.js'
import { names } from './protocol.js'
import type { RetryBackoff, RetryOn } from '../../futures/retry_policy.js'
import { DEFAULT_MAX_PAYLOAD_SIZE } from './object_payload.js'

/** Options of NatsExecutor: where the cluster is, and how much to put in flight. */
export interface NatsExecutorOptions extends NatsConnectionOptions {
  /** Tasks of this executor in flight on the cluster at most (the rest wait here). Default 64. */
  maxInFlight?: number
  /**
   * The same as `maxInFlight`, under the name every executor takes (so
   * `new ctx.Executor({ maxWorkers })` and `Pool({ processes })` work on any context).
   */
  maxWorkers?: number
  /**
   * How many times a task is run again before it fails: one whose worker
   * thread crashed (run again on the worker), or one that threw an error
   * `retryOn` names (published again). Default 0. A task whose whole worker
   * process died runs again on another worker in any case, up to max(the
   * workers' `--max-deliver`, 1 + retries) deliveries, then fails with ClusterError.
   */
  retries?: number
  /**
   * Errors thrown by a task that run it again, within \`retries\`: error
   * classes, names or codes, or a function \`(error, attempt) => boolean\`.
   * Default: none. Map chunks run their failed items again.
   */
  retryOn?: RetryOn
  /** The waits before runs again under \`retryOn\`. Default \`{ initial: 100, factor: 2, max: 10000, jitter: true }\`. */
  retryBackoff?: RetryBackoff
  /** Tasks waiting to be published at most: `submit` beyond it throws `Full`, `waitForRoom()` waits. Default: no bound. */
  maxQueue?: number
  /** How long to keep trying to enqueue a task while the server is unreachable, in ms. Default 30000. */
  publishTimeout?: number
  /**
   * A task submitted while nothing else of this executor is in flight goes
   * straight to an idle worker over core NATS, and through the stream when
   * every worker is busy: a shorter round trip of one task (0.99 ms against
   * 1.23 ms through the stream in the benchmark; docs/cluster.md). Delivery
   * stays at least once, as through the stream (a worker that took it and
   * went silent for an ack wait has it published to the stream). `false`:
   * every task goes through the stream. Default `true`.
   */
  direct?: boolean
}

/** A snapshot of a cluster executor's activity. */
export interface NatsExecutorStats extends ExecutorStats {
  /** Whether the NATS connection is up. */
  connected: boolean
}

const OWN_KEYS = ['maxInFlight', 'maxWorkers', 'publishTimeout', 'direct', ...SHARED_OPTION_KEYS] as const
const LOCAL_ONLY = ['initializer', 'initargs', 'maxTasksPerChild', 'resourceLimits', 'idleTimeout', 'execArgv', 'env', 'concurrentTasksPerWorker'] as const
const DEFAULT_MAX_IN_FLIGHT = 64

let sessions = 0

export class NatsExecutor extends TaskExecutor {
  readonly #scheduler: ClusterScheduler
  readonly #session: string

  /**
   * An executor whose tasks run on the workers of a NATS JetStream cluster
   * (`multiproc worker --nats <url> --allow <module>`). It connects on first use.
   *
   * @param options `servers` (default `MULTIPROC_NATS_URL` or nats://127.0.0.1:4222),
   *   `user`/`pass`, `token`, `nkeySeed`, `credsFile`, `tls`, `prefix`, `stream`,
   *   `maxInFlight` (tasks in flight, default 64; `maxWorkers` is the same), `retries`, `maxQueue`, `publishTimeout`,
   *   `direct` (a lone task goes straight to an idle worker, default true),
   *   `maxPayloadSize` (largest task or result, default 1 GiB; those over the server's max_payload go through the Object Store)
   * @throws TypeError / RangeError for a bad option; UnsupportedBackendError for
   *   options that only local executors have (initializer, maxTasksPerChild, ...)
   * @example
   * await using ex = new NatsExecutor({ servers: 'nats://10.0.0.5:4222' })
   * console.log(await ex.submit(square, 7)) // 49, computed on some worker
   */
  constructor(options: NatsExecutorOptions = {}) {
    const opts = plainObject('options', options)
    for (const key of LOCAL_ONLY) {
      if (opts[key] !== undefined) {
        throw new UnsupportedBackendError(
          `The nats backend has no \`${key}\`: workers are shared by every caller of the cluster and configured where they run (multiproc worker --concurrency ...)`,
        )
      }
    }
    knownKeys('NatsExecutor', opts, [...CONNECTION_KEYS, ...OWN_KEYS])
    checkConnectionOptions(opts)
    const connection = connectionOptions(opts)
    const inFlight = opts.maxInFlight === undefined ? undefined : positiveInteger('maxInFlight', opts.maxInFlight)
    const workers = opts.maxWorkers === undefined ? undefined : positiveInteger('maxWorkers', opts.maxWorkers)
    if (inFlight !== undefined && workers !== undefined && inFlight !== workers) {
      rangeFail('maxWorkers', `the same as maxInFlight (${inFlight}), or left out: they are one setting`, workers)
    }
    if (opts.direct !== undefined && typeof opts.direct !== 'boolean') typeFail('direct', 'a boolean', opts.direct)
    const settings = checkSharedOptions(opts)
    const session = `${randomBytes(9).toString('base64url')}${(sessions++).toString(36)}`
    const scheduler = new ClusterScheduler({
      connection,
      names: names(connection.prefix ?? 'multiproc', connection.stream ?? 'MULTIPROC'),
      session,
      maxInFlight: inFlight ?? workers ?? DEFAULT_MAX_IN_FLIGHT,
      publishTimeout: opts.publishTimeout === undefined ? 30_000 : timeoutMs('publishTimeout', opts.publishTimeout, false),
      maxPayloadSize: connection.maxPayloadSize ?? DEFAULT_MAX_PAYLOAD_SIZE,
      direct: opts.direct !== false,
    })
    super(scheduler, settings, 'the cluster executor')
    this.#scheduler = scheduler
    this.#session = session
  }

  /** Tasks of this executor in flight on the cluster at most. */
  get maxInFlight(): number {
    return this.maxWorkers
  }

  /** This executor's session id: the subject token its tasks and results travel under. */
  get session(): string {
    return this.#session
  }

  /** A snapshot of the executor's activity, and whether the NATS connection is up. */
  override stats(): NatsExecutorStats {
    return { ...super.stats(), connected: this.#scheduler.connected }
  }
}

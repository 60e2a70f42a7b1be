// What runs on a cluster: `multiproc status` (its table and its JSON) lists
// the workers with their counts, the stream's pending messages with no
// worker, and a worker that died first as stale then not at all; a
// worker's `/metrics` serves its counters. Each worker here serves metrics
// on a free port (`--metrics 0`).
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { NatsExecutor, NatsWorker, task } from '../../src/index.js'
import { ClusterStatus, type ClusterSnapshot } from '../../src/backends/nats/cluster_status.js'
import * as T from '../fixtures/tasks.js'
import { fixtures } from '../helpers.js'
import { runCli } from '../cli/helpers.js'
import { TestServer, TestWorker, deleteStream } from './cluster.js'

const PREFIX = 'statustest'
const STREAM = 'STATUSTEST'
const TASKS = new URL('tasks.ts', fixtures).href
const square = task<typeof T.square>(TASKS, 'square')
const failOn = task<typeof T.failOn>(TASKS, 'failOn')
const sleep = task<typeof T.sleep>(TASKS, 'sleep')

/** `multiproc status --json` against `url`. */
async function statusJson(url: string, extra: string[] = []): Promise<ClusterSnapshot> {
  const r = await runCli(['status', '--nats', url, '--prefix', PREFIX, '--stream', STREAM, '--json', ...extra], { timeoutMs: 30_000 })
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as ClusterSnapshot
}

/** The value of a sample in Prometheus' text format (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

function metricsUrl(worker: TestWorker): string {
  const url = /metrics on (http:\/\/\S+\/metrics)/.exec(worker.output)?.[1]
  assert.ok(url, `no metrics URL in the worker's output:\n${worker.output}`)
  return url
}

describe('multiproc status and worker metrics', () => {
  let server: TestServer
  let workers: TestWorker[] = []

  before(async () => {
    server = await TestServer.start()
  })
  after(async () => {
    for (const w of workers) await w.kill()
    if (server?.external) await deleteStream(server.url, STREAM).catch(() => {})
    await server?.stop()
  })

  it('shows the stream pending count with tasks queued and no worker, and a clear error for a missing stream', async () => {
    const missing = await runCli(['status', '--nats', server.url, '--stream', 'NO_SUCH_STREAM', '--timeout', '3000'], { timeoutMs: 30_000 })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /Stream NO_SUCH_STREAM does not exist/)

    const executor = new NatsExecutor({ servers: server.url, prefix: PREFIX, stream: STREAM })
    try {
      // Three messages: each submit waits for the one before to reach the stream.
      const futures = []
      for (let i = 0; i < 3; i++) {
        futures.push(executor.submit(square, i))
        await new Promise((r) => setTimeout(r, 100))
      }
      let snapshot = await statusJson(server.url)
      for (let i = 0; i < 40 && snapshot.queue.messages < 3; i++) {
        await new Promise((r) => setTimeout(r, 100))
        snapshot = await statusJson(server.url)
      }
      assert.equal(snapshot.queue.stream, STREAM)
      assert.equal(snapshot.queue.messages, 3)
      assert.equal(snapshot.queue.pending, 3)
      assert.equal(snapshot.queue.inFlight, 0)
      assert.equal(snapshot.queue.consumerExists, false)
      assert.deepEqual(snapshot.workers, [])
      const table = await runCli(['status', '--nats', server.url, '--prefix', PREFIX, '--stream', STREAM], { timeoutMs: 30_000 })
      assert.equal(table.code, 0, table.stderr)
      assert.match(table.stdout, /queue: 3 messages .*consumer STATUSTEST_workers not created yet/)
      assert.match(table.stdout, /workers: 0, 0 threads/)

      // Two workers come, run the queued tasks, then 20 more and one that fails.
      workers = [0, 1].map(() => new TestWorker(server.url, ['--concurrency', '2', '--prefix', PREFIX, '--stream', STREAM, '--metrics', '0']))
      await Promise.all(workers.map((w) => w.ready))
      assert.deepEqual(await Promise.all(futures), [0, 1, 4])
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => executor.submit(square, i)))
      assert.equal(values.length, 20)
      await assert.rejects(executor.submit(failOn, 3, 3), /item 3 is bad/)
      // Two runs again under retryOn: three runs that fail, each one a task started on a worker.
      const fast = { initial: 1, jitter: false }
      await assert.rejects(executor.submitWith({ retries: 2, retryOn: [RangeError], retryBackoff: fast }, failOn, 3, 3), /item 3 is bad/)
      assert.equal(executor.stats().retried, 2)
    } finally {
      await executor.shutdown()
    }
  })

  it('lists both running workers with their counts (--json)', async () => {
    const snapshot = await statusJson(server.url)
    assert.deepEqual(snapshot.workers.map((w) => w.pid).sort(), workers.map((w) => w.pid).sort())
    for (const w of snapshot.workers) {
      assert.equal(w.concurrency, 2)
      assert.equal(w.state, 'running')
      assert.equal(w.stale, false)
      assert.equal(w.stream, STREAM)
      assert.equal(w.running, 0)
      assert.equal(w.started, w.succeeded + w.failed + w.dropped)
      assert.equal(w.id, `${w.host}:${w.pid}`)
      assert.ok(w.uptime > 0 && w.startedAt <= w.at, JSON.stringify(w))
      assert.match(w.version, /^\d+\.\d+\.\d+/)
      assert.match(w.metrics ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    }
    assert.deepEqual(snapshot.totals, {
      workers: 2,
      stale: 0,
      concurrency: 4,
      running: 0,
      succeeded: 23,
      failed: 4,
      redelivered: 0,
      retried: 2,
      rate: snapshot.totals.rate,
    })
    assert.equal(snapshot.queue.consumerExists, true)
    assert.equal(snapshot.queue.ackWait, 2_000, "the workers' default")
    assert.equal(snapshot.queue.pending, 0)
    assert.equal(snapshot.queue.inFlight, 0)
    assert.equal(snapshot.queue.messages, 0)
  })

  it('prints them as a table', async () => {
    const r = await runCli(['status', '--nats', server.url, '--prefix', PREFIX, '--stream', STREAM], { timeoutMs: 30_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^workers: 2, 4 threads, 0 running, 23 done, 4 failed \(2 run again under retryOn\), [\d.]+ tasks\/s$/m)
    assert.match(r.stdout, /^HOST\s+PID\s+THREADS\s+RUNNING\s+DONE\s+FAILED\s+REDELIV\s+TASKS\/S\s+UPTIME\s+HEARTBEAT\s+STATE$/m)
    for (const w of workers) assert.match(r.stdout, new RegExp(`^\\S+\\s+${w.pid}\\s+2\\s+0\\s+\\d+\\s+\\d\\s+0\\s+[\\d.]+\\s+\\S+\\s+.*running$`, 'm'))
  })

  it('refreshes with --watch --count, one JSON document per line', async () => {
    const r = await runCli(['status', '--nats', server.url, '--prefix', PREFIX, '--stream', STREAM, '--json', '--watch', '200', '--count', '2'], { timeoutMs: 30_000 })
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines.length, 2)
    for (const line of lines) assert.equal((JSON.parse(line) as ClusterSnapshot).totals.workers, 2)
    // Not a terminal: no screen clearing.
    assert.doesNotMatch(r.stdout, /\x1b\[/)
  })

  it("serves each worker's counters on /metrics", async () => {
    const texts = await Promise.all(workers.map(async (w) => (await fetch(metricsUrl(w))).text()))
    const total = (name: string, labels = ''): number => texts.reduce((n, text) => n + sample(text, name, labels), 0)
    assert.equal(total('multiproc_worker_tasks_succeeded_total'), 23)
    assert.equal(total('multiproc_worker_tasks_failed_total'), 4)
    assert.equal(total('multiproc_worker_tasks_started_total'), 27)
    assert.equal(total('multiproc_worker_tasks_retried_total'), 2)
    assert.equal(total('multiproc_worker_messages_redelivered_total'), 0)
    // The lone tasks went directly to an idle worker: the failing one and its three runs under retryOn.
    assert.equal(total('multiproc_worker_messages_direct_total'), 4)
    assert.equal(total('multiproc_worker_tasks_in_flight'), 0)
    assert.equal(total('multiproc_worker_task_duration_seconds_count', 'outcome="succeeded"'), 23)
    assert.equal(total('multiproc_worker_task_duration_seconds_count', 'outcome="failed"'), 4)
    for (const [i, text] of texts.entries()) {
      assert.equal(sample(text, 'multiproc_worker_concurrency'), 2)
      assert.equal(sample(text, 'multiproc_worker_info', `pid="${workers[i]!.pid}"`), 1)
      assert.match(text, /# TYPE multiproc_worker_heartbeats_total counter/)
      assert.match(text, /# TYPE multiproc_worker_task_duration_seconds histogram/)
    }
    const notFound = await fetch(metricsUrl(workers[0]!).replace(/\/metrics$/, '/other'))
    assert.equal(notFound.status, 404)
  })

  it('marks a worker that died stale, then drops it', async () => {
    const status = await ClusterStatus.open({ servers: server.url, prefix: PREFIX, stream: STREAM, timeout: 5_000, gather: 500, forgetAfter: 6_000 })
    try {
      const first = await status.sample()
      assert.equal(first.workers.length, 2)
      const [dead, alive] = workers
      await dead!.kill()
      // Stale after two of its intervals (2 s each) of silence; dropped after forgetAfter.
      let stale: ClusterSnapshot | undefined
      for (let i = 0; i < 40 && stale === undefined; i++) {
        const s = await status.sample()
        if (s.workers.find((w) => w.pid === dead!.pid)?.stale === true) stale = s
        else await new Promise((r) => setTimeout(r, 250))
      }
      assert.ok(stale, 'the dead worker was never marked stale')
      assert.equal(stale.totals.workers, 1)
      assert.equal(stale.totals.stale, 1)
      assert.equal(stale.workers.find((w) => w.pid === alive!.pid)?.stale, false)
      let gone = false
      for (let i = 0; i < 40 && !gone; i++) {
        const s = await status.sample()
        gone = !s.workers.some((w) => w.pid === dead!.pid)
        if (!gone) await new Promise((r) => setTimeout(r, 250))
      }
      assert.ok(gone, 'the dead worker was never dropped')
    } finally {
      await status.close()
    }
    // A one-off status asks the workers: the dead one does not answer.
    const snapshot = await statusJson(server.url)
    assert.deepEqual(snapshot.workers.map((w) => w.pid), [workers[1]!.pid])
  })

  it('says clearly when the server is unreachable', async () => {
    const r = await runCli(['status', '--nats', 'nats://127.0.0.1:1', '--timeout', '2000'], { timeoutMs: 30_000 })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /multiproc status: Cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/)
    assert.equal(r.stdout, '')
  })
})

describe('status and metrics of a redelivered task', () => {
  const prefix = 'redelivtest'
  const stream = 'REDELIVTEST'
  let server: TestServer
  let workers: TestWorker[] = []

  before(async () => {
    server = await TestServer.start()
    workers = [0, 1].map(() => new TestWorker(server.url, ['--concurrency', '1', '--ack-wait', '1000', '--prefix', prefix, '--stream', stream, '--metrics', '0']))
    await Promise.all(workers.map((w) => w.ready))
  })
  after(async () => {
    for (const w of workers) await w.kill()
    if (server?.external) await deleteStream(server.url, stream).catch(() => {})
    await server?.stop()
  })

  it('counts the message the survivor got again, in status and in metrics', async () => {
    const executor = new NatsExecutor({ servers: server.url, prefix, stream })
    const status = await ClusterStatus.open({ servers: server.url, prefix, stream, gather: 300 })
    try {
      const future = executor.submit(sleep, 1500)
      let holder: number | undefined
      for (let i = 0; i < 60 && holder === undefined; i++) {
        holder = (await status.sample()).workers.find((w) => w.running === 1)?.pid
        if (holder === undefined) await new Promise((r) => setTimeout(r, 50))
      }
      assert.ok(holder !== undefined, 'no worker ever ran the task')
      const [dead, survivor] = workers[0]!.pid === holder ? [workers[0]!, workers[1]!] : [workers[1]!, workers[0]!]
      await dead.kill()
      assert.equal(await future, 1500)
      const record = (await status.sample()).workers.find((w) => w.pid === survivor.pid)
      assert.ok(record, 'the survivor does not answer')
      assert.equal(record.redelivered, 1)
      assert.equal(record.succeeded, 1)
      const text = await (await fetch(metricsUrl(survivor))).text()
      assert.equal(sample(text, 'multiproc_worker_messages_redelivered_total'), 1)
      assert.equal(sample(text, 'multiproc_worker_tasks_succeeded_total'), 1)
      assert.ok(sample(text, 'multiproc_worker_heartbeats_total') >= 1)

      // A worker that stops says so: its last record reaches a watcher.
      survivor.signal('SIGTERM')
      let state: string | undefined
      for (let i = 0; i < 100 && state !== 'stopped'; i++) {
        state = (await status.sample()).workers.find((w) => w.pid === survivor.pid)?.state
        if (state !== 'stopped') await new Promise((r) => setTimeout(r, 50))
      }
      assert.equal(state, 'stopped')
    } finally {
      await status.close()
      await executor.shutdown()
    }
  })
})

describe('NatsWorker status and metrics options', () => {
  const base = { servers: 'nats://127.0.0.1:1', allow: [TASKS] }
  it('refuses bad values and unknown keys', () => {
    assert.throws(() => new NatsWorker({ ...base, metrics: { port: -1 } }), /`metrics.port` to be a TCP port/)
    assert.throws(() => new NatsWorker({ ...base, metrics: { port: 9464, hots: 'x' } as never }), /hots/)
    assert.throws(() => new NatsWorker({ ...base, metrics: 9464 as never }), TypeError)
    assert.throws(() => new NatsWorker({ ...base, statusInterval: 10 }), /`statusInterval` to be at least 100 ms/)
  })

  it('says to install prom-client when it is missing', async () => {
    const r = await runCli(['worker', '--nats', 'nats://127.0.0.1:1', '--allow', 'test/fixtures', '--metrics', '0'], {
      nodeArgs: ['--import', './test/fixtures/no_prom_client.mjs'],
      timeoutMs: 30_000,
    })
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`)
    assert.match(r.stderr, /Worker metrics need the Prometheus client: npm install prom-client/)
  })

  it('refuses to start when the metrics port is taken, before it connects', async () => {
    const { createServer } = await import('node:net')
    const taken = createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()))
    try {
      const port = (taken.address() as { port: number }).port
      const worker = new NatsWorker({ ...base, metrics: { port } })
      await assert.rejects(worker.start(), /Cannot serve worker metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE/)
    } finally {
      taken.close()
    }
  })
})

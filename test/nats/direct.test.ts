// Direct delivery: a task sent while nothing else of its caller is in flight
// goes straight to an idle worker over core NATS, around the stream; a busy
// worker, no worker at all, a worker that dies or one that stops send it
// through the stream, and the poison limit still counts every delivery.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterError, NatsExecutor } from '../../src/index.js'
import { DIRECT_REPLY_TIMEOUT_MS } from '../../src/backends/nats/direct_delivery.js'
import * as N from '../fixtures/nats_tasks.js'
import * as T from '../fixtures/tasks.js'
import { rejection } from '../helpers.js'
import { TestServer, TestWorker, deleteStream, until, taskRuns } from './cluster.js'

let server: TestServer
let dir: string
const workers: TestWorker[] = []

/** A worker of the stream `name` (prefix `name` in lower case). */
function startWorker(name: string, args: string[] = []): TestWorker {
  const w = new TestWorker(server.url, ['--prefix', name.toLowerCase(), '--stream', name, ...args])
  workers.push(w)
  return w
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.kill()))
}

const executor = (name: string, options: { direct?: boolean } = {}): NatsExecutor => new NatsExecutor({ servers: server.url, prefix: name.toLowerCase(), stream: name, ...options })

/** Messages ever stored in stream `name` (its last sequence number). */
async function published(name: string): Promise<number> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 })
  try {
    return (await (await jetstreamManager(nc)).streams.info(name)).state.last_seq
  } finally {
    await nc.close()
  }
}


describe('direct delivery on the cluster', () => {
  before(async () => {
    server = await TestServer.start()
    dir = mkdtempSync(join(tmpdir(), 'multiproc-direct-'))
  })
  after(async () => {
    await stopWorkers()
    if (server.external) for (const s of ['DIRECT', 'BUSY', 'LONELY', 'POISON', 'STOPS', 'STOPSTREAM']) await deleteStream(server.url, s).catch(() => {})
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a lone task goes to an idle worker and not into the stream; `direct: false` and a burst use the stream', async () => {
    await startWorker('DIRECT', ['--concurrency', '2']).ready
    await using ex = executor('DIRECT')
    assert.equal(await ex.submit(T.square, 2), 4) // connected, the stream exists
    const before = await published('DIRECT')
    for (let i = 0; i < 20; i++) assert.equal(await ex.submit(T.square, i), i * i)
    assert.equal(await published('DIRECT'), before, 'no task message was stored: every one went directly')
    await using streamOnly = executor('DIRECT', { direct: false })
    for (let i = 0; i < 5; i++) assert.equal(await streamOnly.submit(T.square, i), i * i)
    assert.equal(await published('DIRECT'), before + 5, 'with direct: false each went through the stream')
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => ex.submit(T.square, i)))
    assert.deepEqual(burst, Array.from({ length: 50 }, (_, i) => i * i))
    assert.ok((await published('DIRECT')) > before + 5, 'a burst goes through the stream')
    assert.throws(() => executor('DIRECT', { direct: 'yes' as unknown as boolean }), /Expected `direct` to be a boolean/)
    await stopWorkers()
  })

  it('a busy worker says so, and the task goes through the stream and runs once', async () => {
    await startWorker('BUSY', ['--concurrency', '1']).ready
    await using a = executor('BUSY')
    await using b = executor('BUSY')
    assert.equal(await b.submit(T.square, 1), 1)
    const before = await published('BUSY')
    const file = join(dir, 'busy')
    const long = a.submit(N.loggedSpin, file, 3, 800)
    await until(() => taskRuns(file).length === 1, 30_000, 'the long task to start')
    // The only thread is taken: this one is refused directly and queued in the stream.
    assert.equal(await b.submit(T.square, 7), 49)
    assert.equal((await long)[0], 9)
    assert.equal(taskRuns(file).length, 1, 'the long task ran once')
    assert.equal(await published('BUSY'), before + 1, 'the long task went directly, the refused one through the stream')
    await stopWorkers()
  })

  it('with no worker listening the server says so at once: the task waits in the stream, not counted as a delivery', async () => {
    await using ex = executor('LONELY')
    const f = ex.submit(T.square, 5)
    // Past the wait for an answer: had the server's no-responders not come, the task would go
    // to the stream counted as delivered once, and the worker below (--max-deliver 1) would fail it as poison.
    await new Promise((r) => setTimeout(r, DIRECT_REPLY_TIMEOUT_MS + 500))
    assert.equal(f.done(), false)
    await startWorker('LONELY', ['--concurrency', '1', '--max-deliver', '1']).ready
    assert.equal(await f, 25)
    assert.equal(await published('LONELY'), 1)
    await stopWorkers()
  })

  it('--max-deliver 1: a task whose worker died while it ran directly is not run again; it fails as poison', async () => {
    const victim = startWorker('POISON', ['--concurrency', '1', '--max-deliver', '1'])
    await victim.ready
    await using ex = executor('POISON')
    assert.equal(await ex.submit(T.square, 3), 9)
    const file = join(dir, 'poison')
    const f = ex.submit(N.loggedKill, file)
    await until(() => taskRuns(file).length === 1, 30_000, 'the task to run')
    await startWorker('POISON', ['--concurrency', '1', '--max-deliver', '1']).ready
    const error = await rejection(f)
    assert.ok(error instanceof ClusterError, String(error))
    // Two deliveries at least: the direct one and the stream's (a loaded server may still hand the stream's first to
    // the dead worker's pull request; then a third comes after the ack wait). Never a second run.
    const deliveries = Number(/delivered (\d+) times/.exec(error.message)?.[1])
    assert.ok(deliveries >= 2, error.message)
    assert.match(error.message, /poison/)
    assert.deepEqual(taskRuns(file), [victim.pid], 'it ran once, where it was sent directly')
    await stopWorkers()
  })

  it('a worker that stops with a direct task unfinished gives it back: it runs elsewhere without waiting out the ack wait', async () => {
    // A long ack wait (30 s): the caller's watch would wait that long, the give-back does not.
    const stopping = startWorker('STOPS', ['--concurrency', '1', '--grace', '100', '--ack-wait', '30000'])
    await stopping.ready
    await using ex = executor('STOPS')
    assert.equal(await ex.submit(T.square, 4), 16)
    const file = join(dir, 'stops')
    const f = ex.submit(N.loggedSpin, file, 8, 60_000, 0)
    await until(() => taskRuns(file).length === 1, 30_000, 'the task to start')
    const other = startWorker('STOPS', ['--concurrency', '1', '--ack-wait', '30000'])
    await other.ready
    // Past the worker's first word, so that the caller knows the task was taken and would wait an ack wait of silence.
    await new Promise((r) => setTimeout(r, 300))
    const stoppedAt = performance.now()
    stopping.signal('SIGTERM')
    const [square, pid] = await f
    const ms = performance.now() - stoppedAt
    assert.equal(square, 64)
    assert.equal(pid, other.pid)
    assert.deepEqual(taskRuns(file), [stopping.pid, other.pid])
    // The give-back, not the caller's watch: far under the ack wait, even on a loaded machine.
    assert.ok(ms < 10_000, `it ran elsewhere ${ms.toFixed(0)} ms after SIGTERM (the ack wait is 30 s)`)
    await stopWorkers()
  })

  it('a worker that stops gives a stream task back to another worker, not to its own pull still waiting at the server', async () => {
    // Started first, so its waiting pull is the oldest: the server would hand the task given back to it.
    const stopping = startWorker('STOPSTREAM', ['--concurrency', '1', '--grace', '100', '--ack-wait', '30000'])
    await stopping.ready
    await using ex = executor('STOPSTREAM', { direct: false })
    const file = join(dir, 'stopstream')
    const f = ex.submit(N.loggedSpin, file, 9, 60_000, 0)
    await until(() => taskRuns(file).length === 1, 30_000, 'the task to start')
    const other = startWorker('STOPSTREAM', ['--concurrency', '1', '--ack-wait', '30000'])
    await other.ready
    const stoppedAt = performance.now()
    stopping.signal('SIGTERM')
    const [square, pid] = await f
    const ms = performance.now() - stoppedAt
    assert.equal(square, 81)
    assert.equal(pid, other.pid)
    assert.ok(ms < 10_000, `it ran elsewhere ${ms.toFixed(0)} ms after SIGTERM (the ack wait is 30 s)`)
    await stopWorkers()
  })
})

// Failover on the cluster with the default settings: a worker process
// killed mid-task has its task run elsewhere within the ack wait (2 s), one
// result; `multiproc worker` supervises its worker process and starts it
// again; a long task is never redelivered while its worker lives, whatever
// the other workers' --ack-wait; a dead worker thread is replaced; and a
// task whose worker keeps dying is poison past max(--max-deliver, 1 + retries).
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterError, NatsExecutor, WorkerCrashedError } from '../../src/index.js'
import * as N from '../fixtures/nats_tasks.js'
import * as T from '../fixtures/tasks.js'
import { rejection } from '../helpers.js'
import { TestServer, TestWorker, deleteStream, until, taskRuns } from './cluster.js'

/** The ack wait's default: the bound below says failover takes about that long. */
const ACK_WAIT_MS = 2_000
/**
 * Kill → completion elsewhere: the ack wait (2 s), the redelivery and the
 * result (milliseconds) and the run again (200 ms), with room for a loaded
 * machine; a failover that waited for a longer ack wait (5 s and up) fails it.
 */
const FAILOVER_BOUND_MS = 4_500

let server: TestServer
let dir: string
const workers: TestWorker[] = []

function startWorker(args: string[] = []): TestWorker {
  const w = new TestWorker(server.url, ['--concurrency', '2', ...args])
  workers.push(w)
  return w
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.kill()))
}


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The workers' consumer as JetStream reports it. */
async function consumerInfo(): Promise<{ ackWaitMs: number; redelivered: number }> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 })
  try {
    const info = await (await jetstreamManager(nc)).consumers.info('MULTIPROC', 'MULTIPROC_workers')
    return { ackWaitMs: (info.config.ack_wait ?? 0) / 1e6, redelivered: info.num_redelivered }
  } finally {
    await nc.close()
  }
}

describe('cluster failover', () => {
  before(async () => {
    server = await TestServer.start()
    dir = mkdtempSync(join(tmpdir(), 'multiproc-failover-'))
  })
  after(async () => {
    await stopWorkers()
    if (server.external) await deleteStream(server.url, 'MULTIPROC').catch(() => {})
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('kill -9 of the worker process running a task: another runs it within the default ack wait, and the caller gets one result', async () => {
    startWorker(['--supervise'])
    startWorker(['--supervise'])
    await Promise.all(workers.map((w) => w.ready))
    assert.equal((await consumerInfo()).ackWaitMs, ACK_WAIT_MS, 'the default ack wait')
    await using ex = new NatsExecutor({ servers: server.url })
    const file = join(dir, 'failover')
    const f = ex.submit(N.loggedSpin, file, 7, 60_000, 200)
    let settled = 0
    f.addDoneCallback(() => settled++)
    await until(() => taskRuns(file).length === 1, 30_000, 'the task to start')
    const victim = taskRuns(file)[0]!
    assert.ok(workers.some((w) => w.workerPids.includes(victim)), 'it runs in a supervised worker process')
    // Each heartbeat is a quarter of the ack wait: let one or two go by, so the kill lands between two.
    await new Promise((r) => setTimeout(r, 700))
    const killedAt = performance.now()
    process.kill(victim, 'SIGKILL')
    const [square, pid] = await f
    const failover = performance.now() - killedAt
    assert.equal(square, 49)
    assert.notEqual(pid, victim, 'another worker process ran it')
    assert.deepEqual(taskRuns(file), [victim, pid], 'it ran twice: where it was killed, and once elsewhere')
    assert.ok(failover < FAILOVER_BOUND_MS, `it completed elsewhere ${failover.toFixed(0)} ms after the kill (bound ${FAILOVER_BOUND_MS} ms)`)
    // Exactly once to the caller: one settlement, nothing more arrives later.
    await new Promise((r) => setTimeout(r, 1_000))
    assert.equal(settled, 1)
    const stats = ex.stats()
    assert.equal(stats.succeeded, 1)
    assert.equal(stats.failed, 0)
    assert.equal(stats.running, 0)
    assert.deepEqual(await Promise.all([1, 2, 3].map((x) => ex.submit(T.square, x))), [1, 4, 9], 'the cluster is healthy')
    await stopWorkers()
  })

  it('a supervised worker whose process is killed is started again; the new process runs tasks; SIGTERM stops both, exit code 0', async () => {
    const w = startWorker(['--supervise'])
    await w.ready
    const [first] = w.workerPids
    assert.ok(first !== undefined && first !== w.pid, 'the worker runs in a child process of the command')
    await using ex = new NatsExecutor({ servers: server.url })
    assert.equal(await ex.submit(T.pid), first)
    process.kill(first, 'SIGKILL')
    await until(() => w.workerPids.length === 2, 30_000, 'a new worker process')
    const second = w.workerPids[1]!
    assert.notEqual(second, first)
    assert.match(w.output, new RegExp(`worker process ${first} ended \\(killed by SIGKILL\\) after [\\d.]+ s; restarting in 0\\.2 s`))
    assert.equal(await ex.submit(T.pid), second, 'the new process runs the tasks')
    const exited = new Promise<[number | null, string | null]>((r) => w.child.once('exit', (code, signal) => r([code, signal])))
    w.signal('SIGTERM')
    assert.deepEqual(await exited, [0, null])
    assert.match(w.output, new RegExp(`SIGTERM: stopping worker process ${second}`))
    await until(() => !alive(second), 5_000, 'the worker process to be gone')
    workers.splice(workers.indexOf(w), 1)
  })

  it('a task much longer than the ack wait is not redelivered while its worker lives', async () => {
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const before = (await consumerInfo()).redelivered
    await using ex = new NatsExecutor({ servers: server.url })
    const file = join(dir, 'long')
    const [square, pid] = await ex.submit(N.loggedSpin, file, 5, 3 * ACK_WAIT_MS + 500)
    assert.equal(square, 25)
    assert.deepEqual(taskRuns(file), [pid], 'it ran once')
    assert.equal((await consumerInfo()).redelivered, before, 'JetStream redelivered nothing')
    await stopWorkers()
  })

  it('the last worker to start sets the ack wait; a worker that asked for a longer one heartbeats at the new pace, and its long task is not redelivered', async () => {
    const slow = startWorker(['--ack-wait', '20000'])
    await slow.ready
    assert.equal((await consumerInfo()).ackWaitMs, 20_000)
    await using ex = new NatsExecutor({ servers: server.url })
    const file = join(dir, 'paced')
    const f = ex.submit(N.loggedSpin, file, 3, 3 * ACK_WAIT_MS + 500)
    await until(() => taskRuns(file).length === 1, 30_000, 'the task to start')
    // Another worker starts with the default: it lowers the consumer's ack wait while the task runs.
    const fast = startWorker()
    await fast.ready
    assert.equal((await consumerInfo()).ackWaitMs, ACK_WAIT_MS)
    const [square, pid] = await f
    assert.equal(square, 9)
    assert.equal(pid, slow.pid)
    assert.deepEqual(taskRuns(file), [slow.pid], 'it ran once, on the worker that took it')
    assert.match(slow.output, /the consumer's ack wait is now 2000 ms; heartbeat every 500 ms/)
    await stopWorkers()
  })

  it('a worker thread that dies is replaced: the worker process lives on and runs as many tasks at once as before', async () => {
    const w = startWorker()
    await w.ready
    await using ex = new NatsExecutor({ servers: server.url })
    // A timeout makes each task travel alone, so two at once run on two threads.
    const pair = (): Promise<string[]> => Promise.all([0, 1].map(() => ex.submitWith({ timeout: 30_000 }, N.slowWhoAmI, 300)))
    const before = await pair()
    assert.equal(new Set(before).size, 2, `two threads: ${before}`)
    const error = await rejection(ex.submitWith({ timeout: 30_000 }, T.exitWorker, 3))
    assert.ok(error instanceof WorkerCrashedError, String(error))
    // The new thread boots while the other one already takes tasks: on a busy machine the
    // first pairs may both run on the survivor. Two threads again within a bounded wait.
    let afterCrash = await pair()
    for (let round = 0; round < 60 && new Set(afterCrash).size < 2; round++) afterCrash = await pair()
    assert.equal(new Set(afterCrash).size, 2, `two threads again: ${afterCrash}`)
    for (const who of afterCrash) assert.equal(Number(who.split(':')[0]), w.pid, 'in the same worker process')
    assert.ok(afterCrash.some((who) => !before.includes(who)), `a new thread took the dead one's place: ${before} → ${afterCrash}`)
    await stopWorkers()
  })

  describe('retries on the cluster: a task whose worker process dies is poison past max(--max-deliver, 1 + retries) deliveries', () => {
    before(async () => {
      startWorker(['--supervise', '--max-deliver', '1'])
      startWorker(['--supervise', '--max-deliver', '1'])
      await Promise.all(workers.map((w) => w.ready))
    })
    after(stopWorkers)
    // One test per case: each waits for the workers it killed to be back, which on a busy
    // machine takes a while (a start compiles the worker under tsx, restarts in a row back off).
    const cases: { name: string; executorRetries: number; taskRetries?: number; runs: number }[] = [
      { name: 'retries 0: --max-deliver 1 decides, one run', executorRetries: 0, runs: 1 },
      { name: "the executor's retries: 1", executorRetries: 1, runs: 2 },
      { name: 'submitWith({ retries: 2 })', executorRetries: 0, taskRetries: 2, runs: 3 },
    ]
    for (const c of cases) {
      it(c.name, async () => {
        // Directly or through the stream alike. These counts rest on JetStream's: a nats-server before
        // 2.10.14 can hand the message out again as delivery 1 to a worker that never saw it (redelivery.test.ts).
        await using ex = new NatsExecutor({ servers: server.url, retries: c.executorRetries })
        const file = join(dir, `poison-${c.runs}`)
        const f = c.taskRetries === undefined ? ex.submit(N.loggedKill, file) : ex.submitWith({ retries: c.taskRetries }, N.loggedKill, file)
        const error = await rejection(f)
        assert.ok(error instanceof ClusterError, `${c.name}: ${String(error)}`)
        assert.match(error.message, new RegExp(`delivered ${c.runs + 1} times`), c.name)
        assert.match(error.message, /poison/)
        assert.match(error.message, new RegExp(`--max-deliver 1 and 1 \\+ the task's retries ${c.taskRetries ?? c.executorRetries}`), c.name)
        assert.equal(taskRuns(file).length, c.runs, `${c.name}: it ran ${c.runs} time(s), each in a worker process it killed`)
        // Every killed worker process is back (as many ready lines as starts) before the next case.
        await until(() => workers.every((w) => w.workerPids.length === (w.output.match(/worker process \d+ started/g) ?? []).length), 100_000, 'the workers to be back')
      })
    }
  })
})

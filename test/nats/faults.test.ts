// The cluster backend against a real nats-server: allowlist, redelivery after
// kill -9 and SIGSTOP, a server restart mid-map, a caller that disappears,
// poison tasks. Short ack_wait keeps every test bounded.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterError, ModuleNotAllowedError, NatsExecutor, RemoteError, TimeoutError, getContext, task } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import * as N from '../fixtures/nats_tasks.js'
import { collect, fixtures, rejection, root } from '../helpers.js'
import { TestServer, TestWorker, deleteStream, until, readPid } from './cluster.js'

const ACK_WAIT = ['--ack-wait', '1500', '--session-timeout', '4000']
let server: TestServer
let dir: string
const workers: TestWorker[] = []

function startWorker(args: string[] = []): TestWorker {
  const w = new TestWorker(server.url, ['--concurrency', '2', ...ACK_WAIT, ...args])
  workers.push(w)
  return w
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.kill()))
}

describe('cluster (nats)', { skip: false }, () => {
  before(async () => {
    server = await TestServer.start()
    dir = mkdtempSync(join(tmpdir(), 'multiproc-nats-test-'))
  })
  after(async () => {
    await stopWorkers()
    if (server.external) await deleteStream(server.url, 'MULTIPROC').catch(() => {})
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('runs only allowed modules: another module is refused with ModuleNotAllowedError and never loaded', async () => {
    await using ex = new NatsExecutor({ servers: server.url, prefix: 'allow', stream: 'ALLOW' })
    // This worker allows plain.mjs only.
    const strict = new TestWorker(server.url, ['--concurrency', '1', ...ACK_WAIT, '--prefix', 'allow', '--stream', 'ALLOW'], {}, [join(root, 'test/fixtures/plain.mjs')])
    workers.push(strict)
    await strict.ready
    assert.equal(await ex.submit(task<(x: number) => number>(new URL('plain.mjs', fixtures), 'triple'), 5), 15)
    // This module kills its worker when imported: a ModuleNotAllowedError proves it was not loaded.
    const error = await rejection(ex.submit(task<() => number>(new URL('exits_on_import.ts', fixtures), 'never')))
    assert.ok(error instanceof ModuleNotAllowedError, String(error))
    assert.equal(error.code, 'ERR_MP_MODULE_NOT_ALLOWED')
    assert.match(error.message, /exits_on_import\.ts is not on the allowlist/)
    assert.equal(await ex.submit(task<(x: number) => number>(new URL('plain.mjs', fixtures), 'triple'), 2), 6, 'the worker is still alive')
    await stopWorkers()
  })

  it('kill -9 of a worker mid-task: the task is redelivered to another worker, one result', async () => {
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    await using ex = new NatsExecutor({ servers: server.url })
    const file = join(dir, 'kill9')
    const f = ex.submit(N.pidThenSpin, file, 800)
    await until(() => readPid(file) !== 0, 30_000, 'the task to start')
    const victim = readPid(file)
    const target = workers.find((w) => w.pid === victim)
    assert.ok(target !== undefined, `the task ran in a worker process (${victim})`)
    await target.kill()
    const pid = await f
    assert.notEqual(pid, victim, 'another worker ran it')
    assert.equal(f.state, 'FINISHED')
    // The executor is healthy, and the other tasks are unaffected.
    assert.deepEqual(await collect(ex.map(T.square, [1, 2, 3])), [1, 4, 9])
    await stopWorkers()
  })

  it('kill -9 of a worker mid-chunk: the chunk is redelivered and starts over, each item value arrives once', async () => {
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    await using ex = new NatsExecutor({ servers: server.url })
    const files = Array.from({ length: 6 }, (_, i) => join(dir, `chunk${i}`))
    const values = collect(ex.map(N.pidThenSpin, files, files.map(() => 150), { chunksize: 6 }))
    await until(() => readPid(files[2]!) !== 0, 30_000, 'item 2 of the chunk to start')
    const victim = readPid(files[2]!)
    const target = workers.find((w) => w.pid === victim)
    assert.ok(target !== undefined, `the chunk ran in a worker process (${victim})`)
    await target.kill()
    const pids = await values
    assert.equal(pids.length, 6)
    // Nothing of the dead worker's partial run reached the caller: the whole chunk ran again elsewhere.
    assert.ok(pids.every((pid) => pid !== victim), `every value comes from the worker that ran the redelivered chunk: ${pids}`)
    await stopWorkers()
  })

  it('a worker that hangs (SIGSTOP) loses its task after ack_wait; its late result is ignored', async () => {
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    await using ex = new NatsExecutor({ servers: server.url })
    const file = join(dir, 'stop')
    const f = ex.submit(N.pidThenSpin, file, 500)
    await until(() => readPid(file) !== 0, 30_000, 'the task to start')
    const frozen = workers.find((w) => w.pid === readPid(file))!
    frozen.signal('SIGSTOP')
    try {
      const pid = await f
      assert.notEqual(pid, frozen.pid, 'the other worker ran it after ack_wait')
    } finally {
      frozen.signal('SIGCONT')
    }
    // The frozen worker wakes up, finishes and reports: the settled Future keeps its value.
    const settled = await f
    await new Promise((r) => setTimeout(r, 1_500))
    assert.equal(await f, settled)
    assert.equal(ex.stats().running, 0)
    assert.equal(await ex.submit(T.square, 9), 81)
    await stopWorkers()
  })

  it('a caller that disappears: its running task is stopped', async () => {
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const file = join(dir, 'ticks')
    const caller = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/programs/nats_caller.ts', file, '60000'], {
      cwd: root,
      env: { ...process.env, MULTIPROC_NATS_URL: server.url },
      stdio: 'ignore',
    })
    try {
      await until(() => existsSync(file) && statSync(file).size > 0, 30_000, 'the task to start')
    } finally {
      caller.kill('SIGKILL')
    }
    // The worker pings a caller silent for 2 s on its heartbeats: no responder, so it stops the task.
    let stopped = false
    for (let i = 0; i < 60 && !stopped; i++) {
      const size = statSync(file).size
      await new Promise((r) => setTimeout(r, 400))
      stopped = statSync(file).size === size
    }
    assert.ok(stopped, 'the task stopped within 24 s')
    // Poll slowly enough that a live task (a line every 50 ms) would have written.
    const before = statSync(file).size
    await new Promise((r) => setTimeout(r, 600))
    assert.equal(statSync(file).size, before, 'the task no longer runs')
    await stopWorkers()
  })

  it('a poison task (it kills every worker that takes it) fails with ClusterError after max_deliver', async () => {
    for (let i = 0; i < 3; i++) startWorker(['--max-deliver', '2'])
    await Promise.all(workers.map((w) => w.ready))
    await using ex = new NatsExecutor({ servers: server.url })
    const error = await rejection(ex.submit(N.killMyProcess))
    assert.ok(error instanceof ClusterError, String(error))
    assert.match(error.message, /delivered 3 times/)
    assert.match(error.message, /poison/)
    await stopWorkers()
  })

  it('nats-server restarted mid-map: the map completes, or fails with a clear error', async () => {
    if (server.external) return
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    await using ex = new NatsExecutor({ servers: server.url, maxWorkers: 8, publishTimeout: 30_000 })
    const input = Array.from({ length: 120 }, (_, i) => i)
    const out: number[] = []
    let restarted = false
    try {
      for await (const y of ex.map(T.slowSquare, input, input.map(() => 20), { chunksize: 1, timeout: 90_000 })) {
        out.push(y)
        if (out.length === 20 && !restarted) {
          restarted = true
          await server.restart()
        }
      }
      assert.deepEqual(out, input.map((x) => x * x), 'every result, in order, none lost')
    } catch (error) {
      assert.ok(error instanceof ClusterError || error instanceof TimeoutError, `a clear error, got ${String(error)}`)
    }
    assert.equal(restarted, true)
    await stopWorkers()
  })

  it('getContext("nats", { servers }) gives a Pool on the cluster; a relayed unknown error keeps its name', async () => {
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const ctx = getContext('nats', { servers: server.url })
    await using pool = new ctx.Pool({ processes: 4 })
    assert.equal(pool.context.name, 'nats')
    assert.deepEqual(await pool.map(T.square, [1, 2, 3, 4, 5]), [1, 4, 9, 16, 25])
    const error = await rejection(pool.apply(T.throwError, ['Unregistered', 'far away']))
    assert.ok(error instanceof RemoteError)
    assert.equal(error.name, 'UnregisteredError')
    await stopWorkers()
  })
})

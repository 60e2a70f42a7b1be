// future.cancel() on the cluster: a published task (RUNNING) is cancelled too, stopped where it
// runs or dropped before it starts, and cancelling one task of a packed burst costs no other task.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CancelledError, NatsExecutor } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import * as N from '../fixtures/nats_tasks.js'
import { TestServer, TestWorker, deleteStream } from './cluster.js'

let server: TestServer
let dir: string
let worker: TestWorker

const size = (file: string): number => (existsSync(file) ? statSync(file).size : 0)

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('cancel() on the cluster', () => {
  before(async () => {
    server = await TestServer.start()
    dir = mkdtempSync(join(tmpdir(), 'multiproc-nats-cancel-'))
    worker = new TestWorker(server.url, ['--concurrency', '2', '--prefix', 'cancel', '--stream', 'CANCEL'])
    await worker.ready
  })
  after(async () => {
    await worker.kill()
    if (server.external) await deleteStream(server.url, 'CANCEL').catch(() => {})
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('stops a running task where it runs; its Future settles with CancelledError at once', async () => {
    await using ex = new NatsExecutor({ servers: server.url, prefix: 'cancel', stream: 'CANCEL' })
    const file = join(dir, 'running.txt')
    const f = ex.submit(N.tick, file, 20_000)
    await until(() => size(file) > 0, 30_000, 'the task to start')
    assert.equal(f.state, 'RUNNING')
    const t0 = performance.now()
    assert.equal(f.cancel(), true)
    assert.equal(f.cancelled(), true)
    await assert.rejects(f.result(), (e: unknown) => e instanceof CancelledError && /cancelled by cancel\(\) while running/.test((e as Error).message))
    // The task writes every 50 ms while it runs: it stops soon after the cancel.
    let last = size(file)
    let lastGrowth = performance.now()
    while (performance.now() - lastGrowth < 500) {
      await new Promise((r) => setTimeout(r, 10))
      const now = size(file)
      if (now !== last) {
        last = now
        lastGrowth = performance.now()
      }
    }
    const stoppedAfter = lastGrowth - t0
    assert.ok(stoppedAfter < 3_000, `the task still ran ${stoppedAfter.toFixed(0)} ms after cancel()`)
    if (process.env.MULTIPROC_REPORT) process.stderr.write(`cancel latency: last write ${stoppedAfter.toFixed(0)} ms after cancel()\n`)
    // Its thread was replaced: the worker goes on.
    assert.equal(await ex.submit(T.square, 9), 81)
  })

  it('drops a published task before it starts: it never runs', async () => {
    await using ex = new NatsExecutor({ servers: server.url, prefix: 'cancel', stream: 'CANCEL' })
    const busy = [ex.submit(T.sleep, 800), ex.submit(T.sleep, 800)]
    const file = join(dir, 'never.txt')
    const waiting = ex.submitWith({ retries: 0 }, N.tick, file, 100)
    await until(() => waiting.state === 'RUNNING', 10_000, 'the task to be published')
    assert.equal(waiting.cancel(), true)
    await assert.rejects(waiting.result(), CancelledError)
    await Promise.all(busy)
    assert.equal(await ex.submit(T.square, 3), 9)
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(existsSync(file), false, 'the cancelled task never ran')
  })

  it('cancelling one task of a packed burst stops only that task', async () => {
    await using ex = new NatsExecutor({ servers: server.url, prefix: 'cancel', stream: 'CANCEL' })
    // Tiny tasks first: measured task times this short make the executor pack bursts.
    await Promise.all(Array.from({ length: 300 }, (_, i) => ex.submit(T.square, i)))
    const burst = Array.from({ length: 40 }, (_, i) => ex.submit(T.slowSquare, i, 25))
    await new Promise((r) => setTimeout(r, 100))
    const victim = burst[30]!
    assert.equal(victim.state, 'RUNNING', 'published, not finished yet')
    assert.equal(victim.cancel(), true)
    const outcomes = await Promise.allSettled(burst)
    outcomes.forEach((o, i) => {
      if (i === 30) assert.ok(o.status === 'rejected' && o.reason instanceof CancelledError, `task ${i}: ${JSON.stringify(o)}`)
      else assert.deepEqual(o, { status: 'fulfilled', value: i * i }, `task ${i}`)
    })
    assert.equal(ex.stats().cancelled, 1)
  })
})

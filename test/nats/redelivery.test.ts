// JetStream's delivery count of a message should only grow, but nats-server
// before 2.10.14 can hand a message out again as new (delivery 1) once a
// redelivery found only pull requests whose worker is gone. A worker that
// saw the message at a higher count lets such a repeat be: a poison task
// does not run again through it.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterError, NatsExecutor } from '../../src/index.js'
import { names } from '../../src/backends/nats/protocol.js'
import { DeliveryCounts, repeatsDeliveries, type Receipt } from '../../src/backends/nats/delivery_counts.js'
import * as N from '../fixtures/nats_tasks.js'
import { rejection } from '../helpers.js'
import { TestServer, TestWorker, deleteStream, until, taskRuns } from './cluster.js'

const STREAM = 'REDELIVER'
const PREFIX = 'redeliver'
const ACK_WAIT_MS = 1_000
/** The consumer's ack wait as a worker sets it by default. */
const ACK_WAIT_DEFAULT_MS = 2_000

let server: TestServer
let dir: string
const workers: TestWorker[] = []


describe('delivery counts that JetStream repeats', () => {
  before(async () => {
    server = await TestServer.start()
    dir = mkdtempSync(join(tmpdir(), 'multiproc-redeliver-'))
  })
  after(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()))
    if (server.external) await deleteStream(server.url, STREAM).catch(() => {})
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a poison task that JetStream hands out again as delivery 1 does not run on the worker that failed it', async () => {
    const { connect } = await import('@nats-io/transport-node')
    const { jetstream, jetstreamManager, AckPolicy, RetentionPolicy, StorageType } = await import('@nats-io/jetstream')
    const n = names(PREFIX, STREAM)
    const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 })
    try {
      const jsm = await jetstreamManager(nc)
      await jsm.streams.add({ name: STREAM, subjects: [n.taskWildcard], retention: RetentionPolicy.Workqueue, storage: StorageType.File })
      // The workers' consumer as a worker creates it, before any worker runs.
      await jsm.consumers.add(STREAM, { durable_name: n.consumer, ack_policy: AckPolicy.Explicit, ack_wait: ACK_WAIT_MS * 1e6, max_deliver: -1, max_ack_pending: -1 })
      await using ex = new NatsExecutor({ servers: server.url, prefix: PREFIX, stream: STREAM, direct: false })
      const file = join(dir, 'repeat')
      const f = ex.submit(N.loggedSpin, file, 3, 0)
      for (let i = 0; i < 500 && (await jsm.streams.info(STREAM)).state.messages === 0; i++) await new Promise((r) => setTimeout(r, 20))
      // Delivery 1 to a worker that dies before it runs the task (it never acks).
      const js = jetstream(nc)
      const first = await (await js.consumers.get(STREAM, n.consumer)).next({ expires: 5_000 })
      assert.equal(first?.info.deliveryCount, 1)
      // A worker that asked for a task and died: its pull request stays at the server, nobody behind it.
      const gone = await connect({ servers: server.url, maxReconnectAttempts: 0 })
      const pull = await (await jetstream(gone).consumers.get(STREAM, n.consumer)).fetch({ max_messages: 1, expires: 60_000 })
      void (async () => {
        for await (const _ of pull);
      })().catch(() => {})
      for (let i = 0; i < 500 && (await jsm.consumers.info(STREAM, n.consumer)).num_waiting === 0; i++) await new Promise((r) => setTimeout(r, 20))
      await gone.close()
      // The ack wait runs out: the redelivery (delivery 2) finds only that pull request. An older
      // server then takes the message for new again; the next ack wait queues its redelivery (3).
      await new Promise((r) => setTimeout(r, 2 * ACK_WAIT_MS + 500))
      const repeats = repeatsDeliveries(nc.info?.version ?? '0')
      // --max-deliver 1: the task is poison at its next delivery, whatever its count.
      const w = new TestWorker(server.url, ['--prefix', PREFIX, '--stream', STREAM, '--concurrency', '2', '--max-deliver', '1', '--ack-wait', String(ACK_WAIT_MS)])
      workers.push(w)
      await w.ready
      const error = await rejection(f)
      assert.ok(error instanceof ClusterError, String(error))
      assert.match(error.message, repeats ? /delivered 3 times/ : /delivered 2 times/)
      // Right behind delivery 3 came the repeat, delivery 1 again: taken as it says, it runs the task.
      const repeat = /delivered task message seq \d+ again as delivery 1 after delivery 3/
      if (repeats) await until(() => repeat.test(w.output) || taskRuns(file).length > 0, 10_000, `the repeat to come:\n${w.output}`)
      // Any run's line would be written by now.
      await new Promise((r) => setTimeout(r, 500))
      assert.deepEqual(taskRuns(file), [], 'the poison task never ran')
      if (repeats) assert.match(w.output, repeat, 'the worker says it let the repeat be')
    } finally {
      await nc.close()
    }
  })

  it("a worker killed while its pull request waits: that request is gone before its task's redelivery, so the count goes on from 1 to 2", async () => {
    // Its own stream: this test's consumer starts with nothing pending.
    const stream = 'PULLGONE'
    const prefix = 'pullgone'
    const args = ['--prefix', prefix, '--stream', stream, '--concurrency', '2', '--max-deliver', '1']
    const a = new TestWorker(server.url, args)
    workers.push(a)
    await a.ready
    await using ex = new NatsExecutor({ servers: server.url, prefix, stream, direct: false })
    const file = join(dir, 'pullgone')
    // The worker takes it (delivery 1) and dies in it; its pull request for more still waits at the server.
    const f = ex.submit(N.loggedKill, file)
    await until(() => a.child.exitCode !== null || a.child.signalCode !== null, 30_000, 'the worker to die in the task')
    // The redelivery comes an ack wait (2 s) after delivery 1, with no worker there. A server that still
    // held the dead worker's pull request then would lose that delivery (and repeat the message).
    await new Promise((r) => setTimeout(r, 2 * ACK_WAIT_DEFAULT_MS + 1_000))
    const b = new TestWorker(server.url, args)
    workers.push(b)
    await b.ready
    const error = await rejection(f)
    assert.ok(error instanceof ClusterError, String(error))
    assert.match(error.message, /delivered 2 times/, 'delivery 2 reached the next worker: none was lost on the dead pull request')
    assert.deepEqual(taskRuns(file), [a.pid], 'it ran once, where the worker died')
    assert.doesNotMatch(b.output, /delivered task message seq \d+ again/, 'no repeat of the message')
    if (server.external) await deleteStream(server.url, stream).catch(() => {})
  })
})

describe('DeliveryCounts: what a worker makes of a count that goes backwards', () => {
  /** A stream message as the worker receives it, recording what is done with it. */
  const message = (seq: number, deliveryCount: number): { msg: import('@nats-io/jetstream').JsMsg; did: string[] } => {
    const did: string[] = []
    const msg = { seq, info: { deliveryCount }, ack: () => did.push('ack'), nak: () => did.push('nak'), term: () => did.push('term'), working: () => did.push('working') }
    return { msg: msg as unknown as import('@nats-io/jetstream').JsMsg, did }
  }
  const take = (counts: DeliveryCounts, seq: number, dc: number): Receipt => counts.receive(message(seq, dc).msg)
  const counted = (receipt: Receipt): number => ('letBe' in receipt ? assert.fail('let be') : receipt.count)

  it('counts grow as JetStream says; a repeat of a message held or finished here is let be', () => {
    const counts = new DeliveryCounts()
    const held = take(counts, 7, 3)
    assert.equal(counted(held), 3)
    assert.deepEqual(take(counts, 7, 1), { letBe: true, repeatOf: 3 }, 'held: let be')
    assert.equal(counted(take(counts, 8, 1)), 1, 'another message counts on its own')
    if ('letBe' in held) return
    held.delivery.ack()
    assert.deepEqual(take(counts, 7, 1), { letBe: true, repeatOf: 3 }, 'acked: let be')
  })

  it('a repeat of a message given back counts past the highest delivery seen; a higher count is taken as it is', () => {
    const counts = new DeliveryCounts()
    const first = take(counts, 4, 2)
    if ('letBe' in first) return assert.fail('let be')
    first.delivery.nak()
    const repeat = take(counts, 4, 1)
    assert.equal(counted(repeat), 3)
    assert.equal('letBe' in repeat ? 0 : repeat.repeatOf, 2)
    if (!('letBe' in repeat)) repeat.delivery.nak()
    assert.equal(counted(take(counts, 4, 5)), 5)
  })

  it('servers before 2.10.14 repeat deliveries', () => {
    for (const v of ['2.9.10', '2.10.13', '2.10.0-RC.1', '1.4.0']) assert.equal(repeatsDeliveries(v), true, v)
    for (const v of ['2.10.14', '2.10.22', '2.11.0', '2.12.1', '3.0.0']) assert.equal(repeatsDeliveries(v), false, v)
  })
})

// Tasks and results larger than the server's max_payload (1 MiB) travel
// through the JetStream Object Store: contents arrive intact both ways
// (checked by digest), through submit, map and Pool; the limit fails only
// its own task; every object is deleted once consumed, also when a task ran
// twice; a corrupt object is refused on read.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterError, NatsExecutor, PayloadTooLargeError, SerializationError, getContext } from '../../src/index.js'
import { ObjectPayloads } from '../../src/backends/nats/object_payload.js'
import * as T from '../fixtures/tasks.js'
import * as N from '../fixtures/nats_tasks.js'
import { collect, rejection, root } from '../helpers.js'
import { TestServer, TestWorker, deleteStream, until, readPid } from './cluster.js'

const MiB = 1024 * 1024
const PREFIX = 'big'
const STREAM = 'BIG'
const ACK_WAIT = ['--ack-wait', '1500', '--session-timeout', '4000']

let server: TestServer
let dir: string
const workers: TestWorker[] = []

function startWorker(args: string[] = [], prefix = PREFIX, stream = STREAM): TestWorker {
  const w = new TestWorker(server.url, ['--concurrency', '2', ...ACK_WAIT, '--prefix', prefix, '--stream', stream, ...args])
  workers.push(w)
  return w
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.kill()))
}

function executor(options: { maxPayloadSize?: number; prefix?: string; stream?: string } = {}): NatsExecutor {
  return new NatsExecutor({ servers: server.url, prefix: PREFIX, stream: STREAM, ...options })
}

async function withConnection<T>(use: (nc: import('@nats-io/transport-node').NatsConnection) => Promise<T>): Promise<T> {
  const { connect } = await import('@nats-io/transport-node')
  const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 })
  try {
    return await use(nc)
  } finally {
    await nc.close()
  }
}

/** Messages in stream `name` (0 when it does not exist). */
function streamMessages(name: string): Promise<number> {
  return withConnection(async (nc) => {
    const { jetstreamManager } = await import('@nats-io/jetstream')
    const jsm = await jetstreamManager(nc)
    try {
      return (await jsm.streams.info(name)).state.messages
    } catch (error) {
      if (/not found/i.test((error as Error).message)) return 0
      throw error
    }
  })
}

/** Messages in the payload bucket of `prefix`. */
function bucketMessages(prefix = PREFIX): Promise<number> {
  return streamMessages(`OBJ_${prefix}_payloads`)
}

/** Polls until the bucket of `prefix` is empty, at most `ms`. */
async function untilEmpty(ms: number, prefix = PREFIX): Promise<void> {
  const end = Date.now() + ms
  let left = await bucketMessages(prefix)
  while (left !== 0) {
    if (Date.now() > end) assert.fail(`the payload bucket still holds ${left} messages after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
    left = await bucketMessages(prefix)
  }
}

describe('cluster payloads over max_payload (Object Store)', () => {
  before(async () => {
    server = await TestServer.start()
    dir = mkdtempSync(join(tmpdir(), 'multiproc-payloads-'))
  })
  after(async () => {
    await stopWorkers()
    if (server.external) {
      await deleteStream(server.url, STREAM).catch(() => {})
      await deleteStream(server.url, `OBJ_${PREFIX}_payloads`).catch(() => {})
    }
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a 100 MB argument and a 100 MB result round trip through submit, intact', { timeout: 240_000 }, async () => {
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const input = N.pattern(100 * 1024 * 1024, 7)
    const sent = N.digest(input)
    const expected = N.digest(N.invert(input).bytes)
    {
      await using ex = executor()
      const { received, bytes } = await ex.submit(N.invert, input)
      assert.equal(received, sent, 'the worker received the argument intact')
      assert.equal(bytes.length, input.length)
      assert.equal(N.digest(bytes), expected, 'the result arrived intact')
      assert.equal(await ex.submit(T.square, 12), 144, 'small tasks still travel as messages')
    }
    // Shut down: the argument's object went once the task settled, the result's once read.
    assert.equal(await bucketMessages(), 0)
    await stopWorkers()
  })

  it('map and Pool with a large item; several large tasks in one burst each travel alone', async () => {
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const items = [N.pattern(1000, 1), N.pattern(3 * MiB, 2), N.pattern(10, 3), N.pattern(2 * MiB, 4)]
    const digests = items.map((x) => N.digest(x))
    {
      await using ex = executor()
      assert.deepEqual(await collect(ex.map(N.digest, items)), digests, 'map, automatic chunks')
      assert.deepEqual(await collect(ex.map(N.digest, items, { chunksize: 1 })), digests, 'map, one item a chunk')
      // A burst of submits is packed into one message; too large, it is split, each large task stored alone.
      assert.deepEqual(await Promise.all(items.map((x) => ex.submit(N.digest, x))), digests)
      const [made] = await collect(ex.map(N.pattern, [3 * MiB], [9]))
      assert.equal(N.digest(made!), N.digest(N.pattern(3 * MiB, 9)), 'a large result of map')
    }
    {
      const ctx = getContext('nats', { servers: server.url, prefix: PREFIX, stream: STREAM })
      await using pool = new ctx.Pool({ processes: 4 })
      assert.deepEqual(await pool.map(N.digest, items), digests, 'Pool.map')
      assert.equal(N.digest(await pool.apply(N.pattern, [5 * MiB, 11])), N.digest(N.pattern(5 * MiB, 11)), 'Pool.apply, a large result')
    }
    assert.equal(await bucketMessages(), 0)
    await stopWorkers()
  })

  it('over maxPayloadSize: that task fails with PayloadTooLargeError, nothing else', async () => {
    startWorker()
    // This worker sends results of 2 MB at most.
    startWorker(['--max-payload-size', String(2_000_000)], 'small', 'SMALL')
    await Promise.all(workers.map((w) => w.ready))
    {
      await using ex = executor({ maxPayloadSize: 2 * MiB })
      const before = ex.submit(N.digest, N.pattern(1000, 1))
      const tooLarge = ex.submit(N.digest, N.pattern(3 * MiB, 2))
      const fits = ex.submit(N.digest, N.pattern(MiB + MiB / 2, 3))
      const error = await rejection(tooLarge)
      assert.ok(error instanceof PayloadTooLargeError, String(error))
      assert.ok(error instanceof SerializationError)
      assert.equal(error.code, 'ERR_MP_SERIALIZATION')
      assert.equal(error.limit, 2 * MiB)
      assert.ok(error.size > 3 * MiB)
      assert.equal(error.path, 'args')
      assert.match(error.message, /The arguments of task digest \(nats_tasks\.ts\) are 3\.0 MiB encoded \(\d+ bytes\), over the limit of 2097152 bytes: raise the `maxPayloadSize` option of NatsExecutor/)
      assert.equal(await before, N.digest(N.pattern(1000, 1)), 'a task submitted before it')
      assert.equal(await fits, N.digest(N.pattern(MiB + MiB / 2, 3)), 'a task under the limit, over max_payload')
      // The caller accepts no larger result either: refused before it is read.
      const result = await rejection(ex.submit(N.pattern, 3 * MiB, 1))
      assert.ok(result instanceof PayloadTooLargeError, String(result))
      assert.equal(result.path, 'result')
      assert.match(result.message, /The result of task pattern \(nats_tasks\.ts\) is 3\.0 MiB encoded .* raise the `maxPayloadSize` option of NatsExecutor/)
      assert.equal(await ex.submit(T.square, 3), 9)
    }
    {
      await using ex = executor({ prefix: 'small', stream: 'SMALL' })
      const error = await rejection(ex.submit(N.pattern, 3 * MiB, 1))
      assert.ok(error instanceof PayloadTooLargeError, `the worker's error, rebuilt as its class: ${String(error)}`)
      assert.equal(error.limit, 2_000_000)
      assert.match(error.message, /The task's result is 3\.0 MiB encoded .* raise the worker's `maxPayloadSize` \(multiproc worker --max-payload-size\)/)
      // Nor does it read a larger task.
      const args = await rejection(ex.submit(N.digest, N.pattern(3 * MiB, 2)))
      assert.ok(args instanceof PayloadTooLargeError, String(args))
      assert.equal(args.path, 'args')
      assert.match(args.message, /The arguments of task digest \(nats_tasks\.ts\) are 3\.0 MiB encoded .* raise the worker's `maxPayloadSize`/)
      assert.equal(N.digest(await ex.submit(N.pattern, 1_500_000, 1)), N.digest(N.pattern(1_500_000, 1)), 'a result under its limit')
    }
    assert.equal(await bucketMessages(), 0)
    assert.equal(await bucketMessages('small'), 0)
    await stopWorkers()
  })

  it('a large task redelivered after its worker died runs on the next worker, from the same object', async () => {
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const input = N.pattern(4 * MiB, 5)
    const file = join(dir, 'killed')
    {
      await using ex = executor()
      const f = ex.submit(N.pidThenDigest, file, input, 800)
      await until(() => readPid(file) !== 0, 30_000, 'the task to start')
      const victim = workers.find((w) => w.pid === readPid(file))!
      await victim.kill()
      const [received, pid] = await f
      assert.equal(received, N.digest(input))
      assert.notEqual(pid, victim.pid, 'the other worker ran it')
    }
    assert.equal(await bucketMessages(), 0)
    await stopWorkers()
  })

  it('a large result sent twice (a hung worker wakes up after the task ran elsewhere): the duplicate is deleted too', async () => {
    startWorker()
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    const file = join(dir, 'frozen')
    await using ex = executor()
    const f = ex.submit(N.pidThenPattern, file, 3 * MiB, 6, 600)
    await until(() => readPid(file) !== 0, 30_000, 'the task to start')
    const frozen = workers.find((w) => w.pid === readPid(file))!
    frozen.signal('SIGSTOP')
    let pid: number
    let bytes: Uint8Array
    try {
      ;[pid, bytes] = await f
    } finally {
      frozen.signal('SIGCONT')
    }
    assert.notEqual(pid, frozen.pid)
    assert.equal(N.digest(bytes), N.digest(N.pattern(3 * MiB, 6)))
    // The woken worker finishes too and sends its result, stored as an object of its own.
    await until(() => ex.stats().workers === 2, 20_000, 'the woken worker to send its result')
    await untilEmpty(10_000)
    await stopWorkers()
  })

  it('a caller killed with a large task in the stream: the worker that finds it gone deletes its object', async () => {
    const caller = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/programs/nats_large_caller.ts', PREFIX, STREAM], {
      cwd: root,
      env: { ...process.env, MULTIPROC_NATS_URL: server.url },
      stdio: 'ignore',
    })
    try {
      // No worker yet: the task waits in the stream, its object in the bucket.
      const end = Date.now() + 30_000
      while ((await streamMessages(STREAM)) === 0 || (await bucketMessages()) === 0) {
        if (Date.now() > end) assert.fail('the task was not published within 30 s')
        await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      caller.kill('SIGKILL')
    }
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    await untilEmpty(20_000)
    await stopWorkers()
  })

  it('progress values over max_payload are dropped; the task and its other values go on', async () => {
    startWorker()
    await Promise.all(workers.map((w) => w.ready))
    await using ex = executor()
    const seen: unknown[] = []
    assert.equal(await ex.submitWith({ onProgress: (v) => seen.push(v) }, N.largeProgress, 2 * MiB), 'done')
    assert.deepEqual(seen, ['small'])
    await stopWorkers()
  })

  it('a corrupt object is refused on read: the client checks the digest; a missing one reads as null', async () => {
    await withConnection(async (nc) => {
      const { Objm } = await import('@nats-io/obj')
      const { jetstream, jetstreamManager } = await import('@nats-io/jetstream')
      const payloads = new ObjectPayloads(() => nc, 'corrupt_payloads')
      const data = N.pattern(3 * MiB, 8)
      await payloads.put('x', data, 10_000)
      assert.equal(N.digest((await payloads.get('x'))!), N.digest(data))
      // Move the first chunk to the end: the same bytes, in another order.
      const info = (await (await new Objm(nc).open('corrupt_payloads')).info('x'))!
      const jsm = await jetstreamManager(nc)
      const seq = (await jsm.streams.info('OBJ_corrupt_payloads')).state.first_seq
      const chunk = (await jsm.streams.getMessage('OBJ_corrupt_payloads', { seq }))!.data
      assert.equal(chunk.length, MiB - 4096, 'chunks of max_payload less the headroom')
      await jsm.streams.deleteMessage('OBJ_corrupt_payloads', seq)
      await jetstream(nc).publish(`$O.corrupt_payloads.C.${info.nuid}`, chunk)
      const error = await rejection(payloads.get('x'))
      assert.ok(error instanceof ClusterError, String(error))
      assert.match(error.message, /Cannot read object x of bucket corrupt_payloads: received a corrupt object, digests do not match/)
      payloads.delete('x')
      await payloads.settled()
      assert.equal(await payloads.get('x'), null)
      assert.equal((await jsm.streams.info('OBJ_corrupt_payloads')).state.messages, 0, 'the object and its meta are gone')
      await jsm.streams.delete('OBJ_corrupt_payloads')
    })
  })
})

// A cluster worker's side of the protocol: task units in the format of
// protocol.ts (the kind word of a local run queue entry: flat chunks,
// batches) published straight to the stream, and the task loader's errors
// as a caller on the cluster sees them.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { NatsExecutor, TaskImportError, TaskNotFoundError, WorkerCrashedError, task } from '../../src/index.js'
import { NATS_PROTOCOL_VERSION, decode, encode, names, type TaskMessage, type TaskUnit, type ToCaller } from '../../src/backends/nats/protocol.js'
import { FLAG_FLAT, KIND_CALL, KIND_CHUNK, STATUS_ERROR, STATUS_OK, type ChunkOutcome } from '../../src/wire/messages.js'
import type { SerializedError } from '../../src/wire/remote_error.js'
import * as T from '../fixtures/tasks.js'
import { fixtures, rejection } from '../helpers.js'
import { TestServer, TestWorker, deleteStream } from './cluster.js'

const PREFIX = 'units'
const STREAM = 'UNITS'
const TASKS = new URL('tasks.ts', fixtures).href

describe('cluster worker: task units and task loading', () => {
  let server: TestServer
  let worker: TestWorker

  before(async () => {
    server = await TestServer.start()
    worker = new TestWorker(server.url, ['--concurrency', '2', '--ack-wait', '1500', '--prefix', PREFIX, '--stream', STREAM])
    await worker.ready
  })
  after(async () => {
    await worker?.kill()
    if (server?.external) await deleteStream(server.url, STREAM).catch(() => {})
    await server?.stop()
  })

  /** Publishes one task message of `units` and returns the results the worker sends, by task id. */
  async function runUnits(units: TaskUnit[]): Promise<Map<string, { status: number; value: unknown }>> {
    const { connect } = await import('@nats-io/transport-node')
    const { jetstream } = await import('@nats-io/jetstream')
    const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 })
    try {
      const n = names(PREFIX, STREAM)
      const session = `test${process.pid}x${Math.random().toString(36).slice(2)}`
      const results = new Map<string, { status: number; value: unknown }>()
      const all = new Promise<void>((resolve) => {
        nc.subscribe(n.sessionSubject(session), {
          callback: (error, msg) => {
            if (error !== null) return
            const message = decode<ToCaller>(msg.data)
            if (message.t === 'results') {
              for (let i = 0; i < message.r.length; i += 4) results.set(message.r[i] as string, { status: message.r[i + 1] as number, value: message.r[i + 2] })
            }
            msg.respond()
            if (results.size === units.length) resolve()
          },
        })
      })
      await nc.flush()
      await jetstream(nc).publish(n.taskSubject(session), encode({ v: NATS_PROTOCOL_VERSION, s: session, q: units } satisfies TaskMessage))
      await all
      return results
    } finally {
      await nc.close()
    }
  }

  it('a flat chunk (FLAG_FLAT): each item is the single argument of its call', async () => {
    const results = await runUnits([{ id: 'a', k: KIND_CHUNK | FLAG_FLAT, m: TASKS, n: 'square', a: [1, 2, 3], r: 0 }])
    const a = results.get('a')!
    assert.equal(a.status, STATUS_OK)
    assert.deepEqual((a.value as ChunkOutcome).v, [1, 4, 9])
    assert.equal((a.value as ChunkOutcome).e, undefined)
  })

  it('a batch of units runs on one thread: calls, flat and argument-list chunks, an item that throws', async () => {
    const results = await runUnits([
      { id: 'call', k: KIND_CALL, m: TASKS, n: 'square', a: [7], r: 0 },
      { id: 'flat', k: KIND_CHUNK | FLAG_FLAT, m: TASKS, n: 'square', a: [4, 5], r: 0 },
      { id: 'lists', k: KIND_CHUNK, m: TASKS, n: 'throwError', a: [['TypeError', 'first'], ['RangeError', 'second']], r: 0 },
      { id: 'missing', k: KIND_CALL, m: TASKS, n: 'noSuchTask', a: [], r: 0 },
    ])
    assert.deepEqual(results.get('call'), { status: STATUS_OK, value: 49 })
    assert.deepEqual((results.get('flat')!.value as ChunkOutcome).v, [16, 25])
    const lists = results.get('lists')!.value as ChunkOutcome
    assert.deepEqual(lists.e?.map(([i, e]) => [i, e.cls, e.message]), [
      [0, 'TypeError', 'first'],
      [1, 'RangeError', 'second'],
    ])
    const missing = results.get('missing')!
    assert.equal(missing.status, STATUS_ERROR)
    assert.equal((missing.value as SerializedError).cls, 'TaskNotFoundError')
  })

  it('a chunk that runs long in a batch sends values ahead; they join its outcome in order', async () => {
    // slowSquare waits 20 ms per item by default: longer than the runner holds a chunk's values.
    const results = await runUnits([
      { id: 'slow', k: KIND_CHUNK | FLAG_FLAT, m: TASKS, n: 'slowSquare', a: [1, 2, 3, 4], r: 0 },
      { id: 'lists', k: KIND_CHUNK, m: TASKS, n: 'slowSquare', a: [[5, 15], [6, 15], [7, 15]], r: 0 },
      { id: 'after', k: KIND_CALL, m: TASKS, n: 'square', a: [8], r: 0 },
    ])
    assert.deepEqual((results.get('slow')!.value as ChunkOutcome).v, [1, 4, 9, 16])
    assert.deepEqual((results.get('lists')!.value as ChunkOutcome).v, [25, 36, 49])
    assert.deepEqual(results.get('after'), { status: STATUS_OK, value: 64 })
  })

  it('the loader says what is wrong: a missing export lists the exported functions, a missing module is a TaskImportError', async () => {
    await using ex = new NatsExecutor({ servers: server.url, prefix: PREFIX, stream: STREAM })
    const notFound = await rejection(ex.submit(task<() => number>(TASKS, 'noSuchTask')))
    assert.ok(notFound instanceof TaskNotFoundError, String(notFound))
    assert.match(notFound.message, /has no export named `noSuchTask` \(its exported functions: [^)]*\bsquare\b/)
    const missing = await rejection(ex.submit(task<() => number>(new URL('does_not_exist.ts', fixtures), 'f')))
    assert.ok(missing instanceof TaskImportError, String(missing))
    assert.match(missing.message, /^Cannot import task module file:\S*does_not_exist\.ts/)
  })

  it('a crashed thread is reported by the task it ran, not by the runner that ran it', async () => {
    await using ex = new NatsExecutor({ servers: server.url, prefix: PREFIX, stream: STREAM })
    const error = await rejection(ex.submit(T.exitWorker, 3))
    assert.ok(error instanceof WorkerCrashedError, String(error))
    assert.match(error.message, /while running task exitWorker \(tasks\.ts\)/)
    assert.doesNotMatch(error.message, /runUnits|run_task/)
    assert.match(String(error.task), /^exitWorker \(tasks\.ts\)$/)
  })
})

// The worker command's arguments and the allowlist, without a server.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { NatsWorker, NatsExecutor, UnsupportedBackendError, getContext } from '../../src/index.js'
import { parseWorkerArgs } from '../../src/cli/worker.js'
import { deliveryLimit } from '../../src/backends/nats/task_consumer.js'

describe('multiproc worker arguments', () => {
  it('reads servers, several --allow values, numbers and auth', () => {
    const { options, grace } = parseWorkerArgs([
      '--nats', 'nats://a:4222,nats://b:4222',
      '--allow', 'x.js', 'y.js',
      '--concurrency', '3',
      '--ack-wait=2000',
      '--max-deliver', '4',
      '--user', 'u', '--pass', 'p',
      '--tls-ca', '/ca.pem',
      '--grace', '100',
      '--max-payload-size', '5000000',
    ])
    assert.deepEqual(options.servers, ['nats://a:4222', 'nats://b:4222'])
    assert.deepEqual(options.allow, ['x.js', 'y.js'])
    assert.equal(options.concurrency, 3)
    assert.equal(options.ackWait, 2000)
    assert.equal(options.maxDeliver, 4)
    assert.equal(options.user, 'u')
    assert.equal(options.pass, 'p')
    assert.deepEqual(options.tls, { caFile: '/ca.pem' })
    assert.equal(grace, 100)
    assert.equal(options.maxPayloadSize, 5_000_000)
  })

  it('refuses a missing allowlist, bad numbers and unknown flags', () => {
    assert.throws(() => parseWorkerArgs(['--nats', 'nats://a:4222']), /--allow needs at least one module/)
    assert.throws(() => parseWorkerArgs(['--allow', 'x.js', '--concurrency', '0']), /--concurrency needs a positive integer, got 0/)
    assert.throws(() => parseWorkerArgs(['--allow', 'x.js', '--bogus']), /Unknown argument --bogus/)
    assert.throws(() => parseWorkerArgs(['--allow', 'x.js', '--nats']), /--nats needs a value/)
  })
})

describe('NatsWorker allowlist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-allow-'))
  writeFileSync(join(dir, 'tasks.js'), 'export const x = 1\n')
  mkdirSync(join(dir, 'sub'))

  it('allows exact files, directories (everything under them) and packages with their subpaths', () => {
    const worker = new NatsWorker({ allow: ['tasks.js', join(dir, 'sub'), 'my-tasks', 'file:///srv/lib/'], root: dir })
    assert.equal(worker.allows(pathToFileURL(join(dir, 'tasks.js')).href), true)
    assert.equal(worker.allows(pathToFileURL(join(dir, 'other.js')).href), false)
    assert.equal(worker.allows(pathToFileURL(join(dir, 'sub', 'deep', 'a.js')).href), true, 'under an allowed directory')
    assert.equal(worker.allows(pathToFileURL(join(dir, 'subway.js')).href), false, 'a sibling with the same prefix is not under it')
    assert.equal(worker.allows('my-tasks'), true)
    assert.equal(worker.allows('my-tasks/extra'), true)
    assert.equal(worker.allows('my-tasks-evil'), false)
    assert.equal(worker.allows('file:///srv/lib/a/b.js'), true)
    assert.equal(worker.allows('file:///srv/lib/../etc/passwd'), false, 'dot segments are resolved first')
    rmSync(dir, { recursive: true, force: true })
  })

  it('needs an allowlist and checks its options', () => {
    assert.throws(() => new NatsWorker({ allow: [] }), /Expected `allow` to be a non-empty array/)
    assert.throws(() => new NatsWorker({ allow: ['x'], concurrency: 0 }), RangeError)
    assert.throws(() => new NatsWorker({ allow: ['x'], ackWait: 10 }), /at least 100 ms/)
    assert.throws(() => new NatsWorker({ allow: ['x'], prefix: 'a.b' }), /Expected `prefix` to be a name/)
    assert.throws(() => new NatsWorker({ allow: ['x'], maxPayloadSize: 0 }), /Expected `maxPayloadSize` to be a positive integer, got 0/)
  })

  it('waits 2 s for a silent worker by default (until started, `ackWait` is its own option)', () => {
    assert.equal(new NatsWorker({ allow: ['x'] }).ackWait, 2_000)
    assert.equal(new NatsWorker({ allow: ['x'], ackWait: 5_000 }).ackWait, 5_000)
    assert.equal(new NatsWorker({ allow: ['x'] }).heartbeatInterval, 0)
  })
})

describe('poison tasks on the cluster', () => {
  it("a task is poison past the larger of the worker's maxDeliver and 1 + the task's retries", () => {
    assert.equal(deliveryLimit(5, { r: 0 }), 5, 'retries 0: the worker setting decides')
    assert.equal(deliveryLimit(5, { r: 2 }), 5)
    assert.equal(deliveryLimit(5, { r: 9 }), 10, 'retries raise it')
    assert.equal(deliveryLimit(1, { r: 0 }), 1)
    assert.equal(deliveryLimit(1, { r: 2 }), 3)
  })
})

describe('NatsExecutor options', () => {
  it('refuses the options only local executors have, and unknown ones', () => {
    assert.throws(() => new NatsExecutor({ initializer: () => {} } as never), UnsupportedBackendError)
    assert.throws(() => new NatsExecutor({ maxTasksPerChild: 2 } as never), /no `maxTasksPerChild`/)
    assert.throws(() => new NatsExecutor({ concurrentTasksPerWorker: 4 } as never), /no `concurrentTasksPerWorker`: .*multiproc worker --concurrency/)
    assert.throws(() => new NatsExecutor({ maxWorkers: -1 }), /Expected `maxWorkers` to be a positive integer, got -1/)
    assert.throws(() => new NatsExecutor({ servers: [] }), TypeError)
    assert.throws(() => new NatsExecutor({ colour: 1 } as never), /Unknown option `colour`/)
    assert.throws(() => new NatsExecutor({ maxPayloadSize: 1.5 }), (e: any) => e instanceof RangeError && /Expected `maxPayloadSize` to be a positive integer, got 1.5/.test(e.message))
    assert.throws(() => new NatsExecutor({ maxPayloadSize: '1GB' } as never), TypeError)
    assert.throws(() => getContext('nats', { maxPayloadSize: -1 }), RangeError)
    assert.ok(new NatsExecutor({ maxPayloadSize: 2 ** 31 }))
    assert.ok(getContext('nats', { maxPayloadSize: 64 * 1024 * 1024 }), 'a setting of every executor and Pool of the context')
  })

  it('maxInFlight bounds the tasks on the cluster; maxWorkers is the same setting under the name every executor takes', async () => {
    const a = new NatsExecutor({ maxInFlight: 7 })
    const b = new NatsExecutor({ maxWorkers: 5 })
    const c = new NatsExecutor({ maxInFlight: 3, maxWorkers: 3 })
    const d = new NatsExecutor()
    assert.deepEqual([a.maxInFlight, a.maxWorkers, b.maxInFlight, c.maxInFlight, d.maxInFlight], [7, 7, 5, 3, 64])
    assert.throws(() => new NatsExecutor({ maxInFlight: 4, maxWorkers: 8 }), (e: any) => e instanceof RangeError && /`maxWorkers`.*the same as maxInFlight \(4\)/.test(e.message))
    assert.throws(() => new NatsExecutor({ maxInFlight: 0 }), /Expected `maxInFlight` to be a positive integer, got 0/)
    assert.throws(() => new NatsExecutor({ maxQueue: -1 }), /Expected `maxQueue` to be a positive integer, got -1/)
    for (const ex of [a, b, c, d]) await ex.shutdown()
  })

  it('getContext("nats", options) binds the servers; other contexts take no options', async () => {
    const ctx = getContext('nats', { servers: 'nats://127.0.0.1:1' })
    assert.equal(ctx.name, 'nats')
    assert.notEqual(ctx, getContext('nats', { servers: 'nats://127.0.0.1:1' }), 'a context per set of options')
    assert.equal(getContext('nats'), getContext('nats'), 'the default one is shared')
    assert.throws(() => getContext('thread', { servers: 'x' }), TypeError)
    assert.throws(() => getContext('nats', { sever: 'x' } as never), /Unknown option `sever`/)
    const ex = new ctx.Executor()
    assert.equal((ex as unknown as NatsExecutor).backend, 'nats')
    await ex.shutdown()
  })
})

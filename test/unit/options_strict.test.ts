// Every public constructor and function that takes an options object refuses
// a key it does not know, with the same error everywhere: a RangeError with
// code ERR_MP_UNKNOWN_OPTION that names the key and the keys that exist. A
// misspelled option is never silently ignored (a misspelled `authKey` would
// otherwise give an unauthenticated listener).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Barrier,
  BoundedSemaphore,
  Client,
  Condition,
  Event,
  Future,
  InlineExecutor,
  JoinableQueue,
  Listener,
  Lock,
  Manager,
  NatsExecutor,
  NatsWorker,
  Pipe,
  Pool,
  Process,
  ProcessPoolExecutor,
  Queue,
  RLock,
  Semaphore,
  ShareableList,
  SharedArray,
  SharedMemory,
  ThreadPoolExecutor,
  Value,
  asCompleted,
  getContext,
  wait,
  waitConnections,
} from '../../src/index.js'
import { square } from '../fixtures/tasks.js'
import { runCli } from '../cli/helpers.js'

const BOGUS = { bogusOption: 1 } as never

/** Asserts that `call` throws or rejects with the unknown-option error naming `key`. */
async function refuses(call: () => unknown, key = 'bogusOption'): Promise<void> {
  await assert.rejects(
    async () => {
      await call()
    },
    (error: unknown) => {
      assert.ok(error instanceof RangeError, `expected a RangeError, got ${String(error)}`)
      assert.equal((error as RangeError & { code?: string }).code, 'ERR_MP_UNKNOWN_OPTION')
      assert.match(error.message, new RegExp(`^Unknown option \`${key}\` for .+; expected one of \``))
      return true
    },
  )
}

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mp-strict-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

describe('a misspelled authkey never gives an unauthenticated endpoint', () => {
  it('Listener({ authKey }) throws before it listens', async () => {
    const path = join(dir, 'listener.sock')
    await refuses(() => new Listener({ address: path, authKey: 'secret' } as never), 'authKey')
    assert.equal(existsSync(path), false, 'nothing may listen at the address')
    await assert.rejects(Client(path), { code: 'ENOENT' })
  })

  it('Client(address, { authKey }) throws before it connects', async () => {
    const listener = new Listener({ address: join(dir, 'client.sock'), authkey: 'secret' })
    try {
      await listener.ready
      let accepted = false
      listener.accept().then(
        () => (accepted = true),
        () => {},
      )
      await refuses(() => Client(listener.address, { authKey: 'secret' } as never), 'authKey')
      assert.equal(accepted, false)
    } finally {
      listener.close()
    }
  })

  it('Manager({ authKey }) throws: no server with a random key the caller believes is theirs', async () => {
    await refuses(() => new Manager({ authKey: 'secret' } as never), 'authKey')
  })
})

describe('unknown option keys are refused everywhere', () => {
  // [what, call]: each is given exactly one unknown key.
  const sync: [string, () => unknown][] = [
    ['ThreadPoolExecutor', () => new ThreadPoolExecutor(BOGUS)],
    ['ProcessPoolExecutor', () => new ProcessPoolExecutor(BOGUS)],
    ['InlineExecutor', () => new InlineExecutor(BOGUS)],
    ['getContext().Executor', () => new (getContext('process').Executor)(BOGUS)],
    ['Pool', () => new Pool(BOGUS)],
    ['getContext().Pool', () => new (getContext('inline').Pool)(BOGUS)],
    ["getContext('nats', options)", () => getContext('nats', BOGUS)],
    ['NatsExecutor', () => new NatsExecutor(BOGUS)],
    ['NatsWorker', () => new NatsWorker({ allow: ['x.js'], ...(BOGUS as object) })],
    ['Listener', () => new Listener(BOGUS)],
    ['Manager', () => new Manager(BOGUS)],
    ['SharedMemory', () => new SharedMemory({ create: true, size: 8, ...(BOGUS as object) })],
    ['ShareableList', () => new ShareableList([1], BOGUS)],
    ['Queue', () => new Queue(BOGUS)],
    ['JoinableQueue', () => new JoinableQueue(BOGUS)],
    ['Process', () => new Process({ target: square, ...(BOGUS as object) } as never)],
    ['Barrier', () => new Barrier(2, BOGUS)],
    ['Value', () => new Value('i', 0, BOGUS)],
    ['SharedArray', () => new SharedArray('i', 2, BOGUS)],
    ['Pipe', () => Pipe(BOGUS)],
  ]
  for (const [what, call] of sync) it(what, () => refuses(call))

  it('Client()', () => refuses(() => Client(join(dir, 'nobody.sock'), BOGUS)))

  it('wait() and asCompleted()', async () => {
    const f = new Future<number>()
    f.setResult(1)
    await refuses(() => wait([f], BOGUS))
    await refuses(async () => {
      for await (const _ of asCompleted([f], BOGUS)) break
    })
  })

  it('Future.result() and Future.exception()', async () => {
    const f = new Future<number>()
    f.setResult(1)
    await refuses(() => f.result(BOGUS))
    await refuses(() => f.exception(BOGUS))
  })

  it('executor methods: submitWith(), map(), shutdown()', async () => {
    const ex = new InlineExecutor()
    try {
      await refuses(() => ex.submitWith(BOGUS, square, 2))
      await refuses(async () => {
        for await (const _ of ex.map(square, [1], BOGUS)) break
      })
      await refuses(() => ex.shutdown(BOGUS))
    } finally {
      await ex.shutdown()
    }
  })

  it('Pool methods and AsyncResult', async () => {
    const pool = new Pool({ context: 'inline' })
    try {
      await refuses(() => pool.map(square, [1], BOGUS))
      await refuses(() => pool.mapAsync(square, [1], BOGUS))
      await refuses(() => pool.applyAsync(square, [1], BOGUS))
      await refuses(async () => {
        for await (const _ of pool.imap(square, [1], BOGUS)) break
      })
      await refuses(async () => {
        for await (const _ of pool.imapUnordered(square, [1], BOGUS)) break
      })
      const r = pool.applyAsync(square, [3])
      await refuses(() => r.get(BOGUS))
      await refuses(() => r.wait(BOGUS))
    } finally {
      await pool.terminate()
    }
  })

  it('Queue and JoinableQueue methods', async () => {
    const q = new JoinableQueue<number>()
    await refuses(() => q.put(1, BOGUS))
    await refuses(() => q.get(BOGUS))
    await refuses(() => q.join(BOGUS))
  })

  it('Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event, Barrier methods', async () => {
    await refuses(() => new Lock().acquire(BOGUS))
    await refuses(() => new Lock().hold(BOGUS))
    await refuses(() => new RLock().acquire(BOGUS))
    await refuses(() => new Semaphore(1).acquire(BOGUS))
    await refuses(() => new BoundedSemaphore(1).acquire(BOGUS))
    const c = new Condition()
    await refuses(() => c.acquire(BOGUS))
    await c.acquire()
    try {
      await refuses(() => c.wait(BOGUS))
      await refuses(() => c.waitFor(() => true, BOGUS))
    } finally {
      c.release()
    }
    await refuses(() => new Event().wait(BOGUS))
    await refuses(() => new Barrier(1).wait(BOGUS))
  })

  it('Process.join()', async () => {
    await refuses(() => new Process({ target: square, args: [1] }).join(BOGUS))
  })

  it('Connection methods and waitConnections()', async () => {
    const [a, b] = Pipe()
    try {
      await refuses(() => b.poll(BOGUS))
      await refuses(() => b.recvBytes(BOGUS))
      await refuses(() => waitConnections([b], BOGUS))
    } finally {
      a.close()
      b.close()
    }
  })

  it('Manager.Queue() and the proxies of a running manager', async () => {
    const manager = new Manager({ address: join(dir, 'manager.sock') })
    await manager.start()
    try {
      await refuses(() => manager.Queue(BOGUS))
      const q = await manager.Queue()
      await refuses(() => q.put(1, BOGUS))
      await refuses(() => q.get(BOGUS))
      await refuses(async () => (await manager.Lock()).acquire(BOGUS))
      await refuses(async () => (await manager.Event()).wait(BOGUS))
    } finally {
      await manager.shutdown()
    }
  })
})

describe('multiproc subcommands refuse unknown flags', () => {
  for (const [command, args] of [
    ['map', ['map', 'test/fixtures/cli_tasks.ts#upper', '--bogus-flag']],
    ['bench', ['bench', '--bogus-flag']],
    ['info', ['info', '--bogus-flag']],
    ['worker', ['worker', '--allow', 'x.js', '--bogus-flag']],
  ] as const) {
    it(`multiproc ${command} --bogus-flag exits with 2 and a usage error`, async () => {
      const r = await runCli([...args], { input: '' })
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`)
      assert.match(r.stderr, /--bogus-flag/)
      assert.match(r.stderr, new RegExp(`multiproc ${command}: `))
      assert.match(r.stderr, new RegExp(`multiproc ${command} --help|Usage: multiproc ${command}`), 'points to the usage')
      assert.equal(r.stdout, '')
    })
  }
})

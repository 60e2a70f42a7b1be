// The Manager: built-in proxies, registered types, proxies passed to tasks on
// every backend, another Node program using the same server, a wrong
// authkey, a client killed mid-call, and malformed messages.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { connect, createServer, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import {
  Manager,
  AuthenticationError,
  CancelledError,
  ConnectionClosedError,
  ConnectTimeoutError,
  Listener,
  Empty,
  Full,
  InvalidStateError,
  NotHeldError,
  SharedMemory,
  UnsupportedBackendError,
  type DictProxy,
  type ListProxy,
  type QueueProxy,
} from '../../src/index.js'
import { SocketConnection } from '../../src/connection/socket_connection.js'
import { answerChallenge, deliverChallenge } from '../../src/connection/auth.js'
import { backends } from '../conformance/backends.js'
import { rejection, root, runScript } from '../helpers.js'
import { Board, lockedIncrements, makeBoard, report, sharedBoard } from '../fixtures/manager_tasks.js'

const program = fileURLToPath(new URL('../fixtures/programs/manager_client.ts', import.meta.url))

describe('Manager: built-in proxies', () => {
  it('dict, list, Namespace, Value behave like their Python counterparts', async () => {
    await using manager = new Manager()
    await manager.start()
    const d = await manager.dict<unknown, number>({ a: 1 })
    await d.set('b', 2)
    await d.set([1, 'x'], 3)
    assert.equal(await d.get([1, 'x']), 3, 'array keys compare by content, like tuples')
    assert.equal(await d.get('missing'), undefined)
    assert.equal(await d.get('missing', 0), 0)
    assert.equal(await d.len(), 3)
    assert.equal(await d.pop('a'), 1)
    assert.deepEqual(await d.copy(), new Map<unknown, number>([['b', 2], [[1, 'x'], 3]]))

    const l = await manager.list([1, 2, 3])
    await l.append(4)
    await l.insert(0, 0)
    assert.equal(await l.get(-1), 4)
    assert.equal(await l.pop(), 4)
    assert.deepEqual(await l.copy(), [0, 1, 2, 3])
    assert.ok((await rejection(l.get(10))) instanceof RangeError)

    const ns = await manager.Namespace({ x: 1 })
    await ns.set('y', 'two')
    assert.deepEqual(await ns.toObject(), { x: 1, y: 'two' })

    const v = await manager.Value('i', 10)
    assert.equal(await v.add(5), 15)
    await v.set(1)
    assert.equal(await v.get(), 1)
  })

  it('Queue, Lock and Event block, time out and raise typed errors', async () => {
    await using manager = new Manager()
    await manager.start()
    const q = await manager.Queue<number>({ maxsize: 1 })
    await q.put(1)
    assert.ok((await rejection(q.putNowait(2))) instanceof Full)
    assert.ok((await rejection(q.put(2, { timeout: 10 }))) instanceof Full)
    const blockedPut = q.put(3)
    assert.equal(await q.get(), 1)
    await blockedPut
    assert.equal(await q.get(), 3)
    assert.ok((await rejection(q.getNowait())) instanceof Empty)
    assert.ok((await rejection(q.get({ timeout: 10 }))) instanceof Empty)

    const lock = await manager.Lock()
    assert.equal(await lock.acquire(), true)
    assert.equal(await lock.acquire({ block: false }), false)
    assert.equal(await lock.acquire({ timeout: 10 }), false)
    await lock.release()
    assert.ok((await rejection(lock.release())) instanceof NotHeldError)

    const event = await manager.Event()
    assert.equal(await event.wait({ timeout: 10 }), false)
    const waiting = event.wait()
    await event.set()
    assert.equal(await waiting, true)
    assert.equal(await event.isSet(), true)
  })

  it('registered types expose their public methods; lifecycle errors are typed', async () => {
    const manager = new Manager()
    manager.register('Board', makeBoard)
    await manager.start()
    assert.throws(() => manager.register('Late', makeBoard), InvalidStateError)
    await assert.rejects(manager.start(), InvalidStateError)
    const board = await manager.create<Board>('Board')
    assert.equal(await board.post('one'), 1)
    assert.equal(await board.post('two'), 2)
    assert.deepEqual(await board.messages(), ['one', 'two'])
    assert.deepEqual(await board.slowEcho({ deep: [1] }, 5), { deep: [1] })
    assert.equal((board as unknown as Record<string, unknown>)._hidden, undefined)
    await assert.rejects(manager.create('Nope'), TypeError)
    await manager.shutdown()
    await manager.shutdown()
    await assert.rejects(manager.dict(), InvalidStateError)
    const stale = await rejection(board.post('after shutdown'))
    assert.ok(stale instanceof ConnectionClosedError, String(stale))
  })
})

for (const backend of backends()) {
  describe(`Manager proxies as task arguments [${backend.name}]`, () => {
    it('workers change shared objects; a Lock keeps increments exact', async () => {
      // Cluster workers reach a Manager over TCP only (loopback here, a reachable host in a real cluster).
      await using manager = backend.sameMachine ? new Manager() : new Manager({ address: { host: '127.0.0.1', port: 0 } })
      await manager.start()
      await using ex = backend.create()
      const [d, l, q, lock, counter] = await Promise.all([manager.dict<string, number>(), manager.list<string>(), manager.Queue<string>(), manager.Lock(), manager.Value('i', 0)])
      const tags = await Promise.all(['a', 'b', 'c', 'd'].map((tag) => ex.submit(report, d, l, q, tag)))
      assert.deepEqual(tags, ['a', 'b', 'c', 'd'])
      assert.deepEqual((await d.keys()).sort(), ['a', 'b', 'c', 'd'])
      assert.deepEqual((await l.copy()).sort(), ['a', 'b', 'c', 'd'])
      const done: string[] = []
      for (let i = 0; i < 4; i++) done.push(await q.get({ timeout: 60_000 }))
      assert.deepEqual(done.sort(), ['done a', 'done b', 'done c', 'done d'])
      if (backend.name === 'process') {
        const pids = await d.values()
        assert.ok(pids.every((pid) => pid !== process.pid), 'ran in other processes')
      }
      await Promise.all([ex.submit(lockedIncrements, lock, counter, 50), ex.submit(lockedIncrements, lock, counter, 50)])
      assert.equal(await counter.get(), 100)
    })

    if (!backend.sameMachine) {
      it('a proxy of a Manager on a Unix socket is refused with UnsupportedBackendError', async () => {
        await using manager = new Manager()
        await manager.start()
        await using ex = backend.create()
        const [d, l, q] = await Promise.all([manager.dict<string, number>(), manager.list<string>(), manager.Queue<string>()])
        const error = await rejection((async () => ex.submit(report, d, l, q, 'x'))())
        assert.ok(error instanceof UnsupportedBackendError, String(error))
        assert.match(error.message, /listens on the Unix socket .* only this machine reaches.*address: \{ host, port: 0 \}/)
        assert.deepEqual(await d.keys(), [], 'the task did not run')
      })
    }
  })
}

describe('Manager: shareable values inside shared objects', () => {
  it('a proxy stored in a dict comes back as a proxy; a SharedMemory block by name (addon only)', async () => {
    await using manager = new Manager()
    await manager.start()
    const outer = await manager.dict<string, unknown>()
    const inner = await manager.list<number>([1])
    await outer.set('inner', inner)
    const back = (await outer.get('inner')) as ListProxy<number>
    await back.append(2)
    assert.deepEqual(await inner.copy(), [1, 2])
    if (SharedMemory.backend === 'posix') {
      const shm = new SharedMemory({ create: true, size: 8 })
      try {
        shm.buf[0] = 9
        await outer.set('block', shm)
        const block = (await outer.get('block')) as InstanceType<typeof SharedMemory>
        assert.ok(block instanceof SharedMemory)
        assert.equal(block.buf[0], 9)
        block.close()
      } finally {
        shm.close()
        shm.unlink()
      }
    }
  })
})

describe('Manager used by another Node program', () => {
  it('connects by address and authkey, shares objects and registered singletons', async () => {
    await using manager = new Manager({ address: { host: '127.0.0.1', port: 0 } })
    manager.register('sharedBoard', sharedBoard)
    await manager.start()
    const d = await manager.dict<string, unknown>()
    const token = JSON.stringify({ typeid: d.token.typeid, oid: d.token.oid })
    const run = await runScript(program, [JSON.stringify(manager.address), manager.authkey.toString('hex'), 'use', token], { timeoutMs: 90_000 })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /posted 1/)
    assert.match(run.stdout, /own list \[1,2,3\]/)
    const pid = await d.get('from program')
    assert.equal(typeof pid, 'number')
    assert.notEqual(pid, process.pid)
    const board = await manager.create<Board>('sharedBoard')
    assert.deepEqual(await board.messages(), [`hello from ${pid}`])
  })

  it('a wrong authkey gets AuthenticationError and the server keeps serving', async () => {
    await using manager = new Manager()
    await manager.start()
    const intruder = new Manager({ address: manager.address, authkey: 'not the key' })
    const error = await rejection(intruder.connect())
    assert.ok(error instanceof AuthenticationError, String(error))
    const run = await runScript(program, [JSON.stringify(manager.address), Buffer.from('wrong').toString('hex'), 'use', '{}'], { timeoutMs: 90_000 })
    assert.match(run.stdout, /connect failed: AuthenticationError/)
    const d = await manager.dict()
    await d.set('ok', true)
    assert.equal(await d.get('ok'), true)
  })

  it('a program killed mid-call loses nothing: its lock is released, no item goes to it', async () => {
    await using manager = new Manager()
    await manager.start()
    const lock = await manager.Lock()
    const queue = await manager.Queue<string>()
    const tokens = [lock, queue].map((p) => JSON.stringify({ typeid: p.token.typeid, oid: p.token.oid }))
    const child = spawn(process.execPath, ['--import', 'tsx', program, JSON.stringify(manager.address), manager.authkey.toString('hex'), 'block', ...tokens], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        out += chunk
        if (out.includes('waiting')) resolve()
      })
      child.once('exit', () => reject(new Error(`the program exited early: ${out}`)))
    })
    assert.equal(await lock.locked(), true, 'the program holds the lock')
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    clearTimeout(killer)
    assert.equal(await lock.acquire({ timeout: 60_000 }), true, 'the lock of a vanished client is released')
    await lock.release()
    await queue.put('item')
    assert.equal(await queue.get({ timeout: 60_000 }), 'item', 'the item did not go to the dead program')
    assert.doesNotMatch(out, /got an item/)
  })
})

describe('Manager: bad connections', () => {
  async function authenticated(manager: Manager) {
    const address = manager.address
    const socket = connect(typeof address === 'string' ? { path: address } : { host: address.host, port: address.port })
    await new Promise((resolve) => socket.once('connect', resolve))
    const conn = new SocketConnection(socket, 256)
    await answerChallenge(conn, manager.authkey)
    await deliverChallenge(conn, manager.authkey)
    conn.setMaxMessageSize(1 << 20)
    return { socket, conn }
  }

  it('a malformed message, a foreign message and an oversized one close only their own connection', async () => {
    await using manager = new Manager({ maxMessageSize: 4096 })
    await manager.start()
    const d = await manager.dict<string, number>()
    for (const bad of [
      Buffer.from([0, 0, 0, 6, 0, 0xff, 0x0f, 0x6f, 0x01, 0x02]), // undecodable value
      Buffer.from([0, 0, 0, 4, 1, 1, 2, 3]), // bytes, not a request
      Buffer.from([0, 1, 0, 0, 0]), // 65 535 bytes announced, over the limit
    ]) {
      const { socket } = await authenticated(manager)
      socket.ref() // the connection wrapper unrefs it; this test waits for its close
      socket.resume()
      const closed = new Promise((resolve) => socket.once('close', resolve))
      socket.write(bad)
      await closed
      await d.set('alive', 1)
      assert.equal(await d.get('alive'), 1)
    }
    const { conn } = await authenticated(manager)
    conn.send({ id: 1, op: 'call', oid: d.token.oid, method: 'nope', args: [] })
    const reply = (await conn.recv()) as { ok: boolean }
    assert.equal(reply.ok, false, 'a call to a missing method is answered with an error')
    conn.close()
  })
})

describe('Manager.connect() against a peer that does not answer', () => {
  it('a silent TCP server: ConnectTimeoutError at the handshake, naming the address', async () => {
    const sockets: Socket[] = []
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
    const port = (server.address() as { port: number }).port
    try {
      const manager = new Manager({ address: { host: '127.0.0.1', port }, authkey: 'k' })
      const error = await rejection(manager.connect({ timeout: 150 }))
      assert.ok(error instanceof ConnectTimeoutError, String(error))
      assert.equal(error.stage, 'handshake')
      assert.equal(error.address, `127.0.0.1:${port}`)
      assert.match(error.message, /never sent its authkey challenge/)
      assert.equal(manager.state, 'initial')
      const controller = new AbortController()
      const aborted = manager.connect({ signal: controller.signal })
      controller.abort()
      assert.ok((await rejection(aborted)) instanceof CancelledError)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('a Listener that passes the handshake but never answers: ConnectTimeoutError at the reply', async () => {
    await using listener = new Listener({ address: { host: '127.0.0.1', port: 0 }, authkey: 'k' })
    await listener.ready
    const accepted = listener.accept()
    const manager = new Manager({ address: listener.address, authkey: 'k' })
    const error = await rejection(manager.connect({ timeout: 300 }))
    assert.ok(error instanceof ConnectTimeoutError, String(error))
    assert.equal(error.stage, 'reply')
    assert.match(error.message, /the handshake passed but the server did not answer/)
    ;(await accepted).close()
  })

  it('options are checked', async () => {
    const manager = new Manager()
    await assert.rejects(manager.connect({ timout: 5 } as never), { code: 'ERR_MP_UNKNOWN_OPTION' })
    await assert.rejects(manager.connect({ timeout: 'soon' } as never), TypeError)
    assert.throws(() => new Manager({ adress: 'x' } as never), { code: 'ERR_MP_UNKNOWN_OPTION' })
  })
})

export type { DictProxy, ListProxy, QueueProxy }

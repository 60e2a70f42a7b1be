// Listener and Client: framing, the authkey handshake, and a bad peer
// losing only its own connection.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { Listener, Client, AuthenticationError, CancelledError, ConnectionClosedError, ConnectTimeoutError, EOFError, TimeoutError } from '../../src/index.js'
import type { Address } from '../../src/connection/address.js'
import { rejection } from '../helpers.js'

const tcp = { host: '127.0.0.1', port: 0 }

/** Waits (bounded) for a condition, turning the event loop. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms
  while (!check()) {
    if (performance.now() > end) assert.fail(`condition not met within ${ms} ms: ${check.toString()}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A TCP server on 127.0.0.1 that accepts every connection and never says a word. */
async function silentServer(): Promise<{ server: Server; address: { host: string; port: number }; sockets: Socket[]; ended: () => number }> {
  const sockets: Socket[] = []
  let ended = 0
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
    socket.on('close', () => ended++)
    socket.resume() // read (and drop) whatever comes, so the peer's close is seen
  })
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const port = (server.address() as { port: number }).port
  return { server, address: { host: '127.0.0.1', port }, sockets, ended: () => ended }
}

async function closeServer(s: { server: Server; sockets: Socket[] }): Promise<void> {
  for (const socket of s.sockets) socket.destroy()
  await new Promise((resolve) => s.server.close(resolve))
}

function rawSocket(address: Address): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = typeof address === 'string' ? connect({ path: address }) : connect({ host: address.host, port: address.port })
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}

function frame(kind: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(payload.length + 1, 0)
  head[4] = kind
  return Buffer.concat([head, payload])
}

for (const [label, address] of [
  ['tcp', tcp],
  ['unix socket', undefined],
] as const) {
  describe(`Listener and Client [${label}]`, () => {
    it('carry values and bytes both ways after the handshake', async () => {
      await using listener = new Listener({ ...(address ? { address } : {}), authkey: 'secret' })
      await listener.ready
      const [server, client] = await Promise.all([listener.accept(), Client(listener.address, { authkey: 'secret' })])
      client.send({ n: 1, list: [1, 2, 3], map: new Map([['k', new Float64Array([1.5])]]) })
      assert.deepEqual(await server.recv(), { n: 1, list: [1, 2, 3], map: new Map([['k', new Float64Array([1.5])]]) })
      server.sendBytes(new Uint8Array([9, 8, 7, 6]), 1, 2)
      assert.deepEqual([...(await client.recvBytes())], [8, 7])
      assert.equal(await client.poll(), false)
      server.send('later')
      assert.equal(await client.poll({ timeout: 30_000 }), true)
      assert.equal(await client.recv(), 'later')
      client.close()
      const eof = await rejection(server.recv())
      assert.ok(eof instanceof EOFError, String(eof))
      assert.throws(() => client.send(1), ConnectionClosedError)
      server.close()
    })
  })
}

describe('Listener authkey', () => {
  it('a wrong key gets AuthenticationError in the client, is counted by the listener, and the listener keeps serving', async () => {
    const reported: [Error, string][] = []
    await using listener = new Listener({ address: tcp, authkey: 'right key', onHandshakeError: (error, peer) => reported.push([error, peer]) })
    await listener.ready
    const bad = await rejection(Client(listener.address, { authkey: 'wrong key' }))
    assert.ok(bad instanceof AuthenticationError, String(bad))
    await until(() => listener.handshakes.failed === 1)
    assert.equal(reported.length, 1)
    assert.ok(reported[0]![0] instanceof AuthenticationError, String(reported[0]![0]))
    assert.match(reported[0]![1], /^127\.0\.0\.1:\d+$/)
    // accept() never sees the failed one: the next connection it hands out is the good client.
    const [server, client] = await Promise.all([listener.accept(), Client(listener.address, { authkey: 'right key' })])
    server.send('welcome')
    assert.equal(await client.recv(), 'welcome')
    client.close()
    server.close()
  })

  it('a peer that sends no valid answer sees no data and is dropped', async () => {
    await using listener = new Listener({ address: tcp, authkey: 'k' })
    await listener.ready
    const raw = await rawSocket(listener.address)
    const received: Buffer[] = []
    raw.on('data', (d) => received.push(d))
    const closed = new Promise((resolve) => raw.once('close', resolve))
    raw.write(frame(1, Buffer.alloc(32, 1))) // a made-up answer
    await closed
    const all = Buffer.concat(received).toString('latin1')
    assert.match(all, /#CHALLENGE#/)
    assert.match(all, /#FAILURE#/)
    assert.doesNotMatch(all, /#WELCOME#/)
    await until(() => listener.handshakes.failed === 1)
    assert.deepEqual(listener.handshakes, { pending: 0, accepted: 0, failed: 1, timedOut: 0, refused: 0 })
  })

  it('a client without a key cannot talk to a listener with one', async () => {
    await using listener = new Listener({ address: tcp, authkey: 'k' })
    await listener.ready
    const conn = await Client(listener.address)
    // It reads the challenge as a message, but its own messages never reach accept().
    assert.ok(Buffer.isBuffer(await conn.recv()))
    conn.close()
    await until(() => listener.handshakes.failed === 1)
  })
})

describe('bad messages close their connection only', () => {
  it('a malformed value', async () => {
    await using listener = new Listener({ address: tcp })
    await listener.ready
    const raw = await rawSocket(listener.address)
    const victim = await listener.accept()
    raw.write(frame(0, Buffer.from([0xff, 0x0f, 0x6f, 0x01, 0x02, 0x03])))
    const error = await rejection(victim.recv())
    assert.ok(error instanceof ConnectionClosedError, String(error))
    raw.destroy()
    const [server, client] = await Promise.all([listener.accept(), Client(listener.address)])
    client.send('still here')
    assert.equal(await server.recv(), 'still here')
    client.close()
    server.close()
  })

  it('an oversized message', async () => {
    await using listener = new Listener({ address: tcp, authkey: 'k', maxMessageSize: 1024 })
    await listener.ready
    const [victim, big] = await Promise.all([listener.accept(), Client(listener.address, { authkey: 'k' })])
    big.sendBytes(new Uint8Array(4096))
    const error = await rejection(victim.recv())
    assert.ok(error instanceof ConnectionClosedError, String(error))
    assert.match(error.message, /over the limit/)
    const [server, client] = await Promise.all([listener.accept(), Client(listener.address, { authkey: 'k' })])
    client.sendBytes(new Uint8Array(1000))
    assert.equal((await server.recvBytes()).length, 1000)
    for (const c of [big, client, server]) c.close()
  })

  it('a huge length header during the handshake', async () => {
    await using listener = new Listener({ address: tcp, authkey: 'k' })
    await listener.ready
    const raw = await rawSocket(listener.address)
    raw.resume() // read (and ignore) the challenge, so the close is noticed
    const closed = new Promise((resolve) => raw.once('close', resolve))
    raw.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x01]))
    await closed
    await until(() => listener.handshakes.failed === 1)
  })
})

describe('argument errors', () => {
  it('are typed', async () => {
    assert.throws(() => new Listener({ address: { host: '127.0.0.1', port: 70000 } }), RangeError)
    assert.throws(() => new Listener({ authkey: 42 as never }), TypeError)
    assert.throws(() => new Listener({ maxPendingHandshakes: 0 }), /Expected `maxPendingHandshakes` to be a positive integer, got 0/)
    assert.throws(() => new Listener({ onHandshakeError: 'log' as never }), TypeError)
    assert.throws(() => new Listener({ handshakeTimout: 5 } as never), { code: 'ERR_MP_UNKNOWN_OPTION' })
    await assert.rejects(Client(12 as never), TypeError)
    await assert.rejects(Client(tcp, { timout: 5 } as never), { code: 'ERR_MP_UNKNOWN_OPTION', message: /Unknown option `timout` for Client\(\)/ })
    await assert.rejects(Client(tcp, { timeout: -1 }), RangeError)
    await assert.rejects(Client(tcp, { signal: 'stop' as never }), TypeError)
  })
})

describe('Client against a silent peer', () => {
  it('rejects with ConnectTimeoutError naming the address and the missing challenge', async () => {
    const silent = await silentServer()
    try {
      const started = performance.now()
      const error = await rejection(Client(silent.address, { authkey: 'k', timeout: 150 }))
      assert.ok(error instanceof ConnectTimeoutError, String(error))
      assert.ok(error instanceof TimeoutError)
      assert.equal(error.code, 'ERR_MP_TIMEOUT')
      assert.equal(error.stage, 'handshake')
      assert.equal(error.address, `127.0.0.1:${silent.address.port}`)
      assert.match(error.message, new RegExp(`^Connecting to 127\\.0\\.0\\.1:${silent.address.port} timed out after 150 ms: the other end accepted the connection but never sent its authkey challenge`))
      assert.ok(performance.now() - started < 10_000)
      // The client closed its socket.
      await until(() => silent.ended() === 1)
    } finally {
      await closeServer(silent)
    }
  })

  it('names the step a Listener peer stopped at: it challenged us but never gave its verdict', async () => {
    // A peer that sends a valid-looking challenge, then goes silent.
    const sockets: Socket[] = []
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => {})
      socket.write(frame(1, Buffer.concat([Buffer.from('#CHALLENGE#{sha256}'), Buffer.alloc(32, 7)])))
    })
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
    const port = (server.address() as { port: number }).port
    try {
      const error = await rejection(Client({ host: '127.0.0.1', port }, { authkey: 'k', timeout: 150 }))
      assert.ok(error instanceof ConnectTimeoutError, String(error))
      assert.match(error.message, /did not say whether it accepted our answer to its challenge/)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('gives up at once with CancelledError when its signal aborts', async () => {
    const silent = await silentServer()
    try {
      const controller = new AbortController()
      const pending = Client(silent.address, { authkey: 'k', signal: controller.signal })
      await until(() => silent.sockets.length === 1)
      controller.abort(new Error('user gave up'))
      const error = await rejection(pending)
      assert.ok(error instanceof CancelledError, String(error))
      assert.match((error.cause as Error).message, /user gave up/)
      const already = await rejection(Client(silent.address, { signal: AbortSignal.abort() }))
      assert.ok(already instanceof CancelledError, String(already))
    } finally {
      await closeServer(silent)
    }
  })
})

describe('Listener handshake limits', () => {
  it('caps handshakes in progress: a connection over the cap is closed at once, and counted', async () => {
    const reported: string[] = []
    await using listener = new Listener({ address: tcp, authkey: 'k', maxPendingHandshakes: 3, handshakeTimeout: 60_000, onHandshakeError: (error) => reported.push(error.message) })
    await listener.ready
    const idle: Socket[] = []
    for (let i = 0; i < 3; i++) idle.push(await rawSocket(listener.address))
    await until(() => listener.handshakes.pending === 3)
    for (let i = 0; i < 5; i++) idle.push(await rawSocket(listener.address))
    await until(() => listener.handshakes.refused === 5)
    assert.equal(listener.handshakes.pending, 3)
    assert.equal(reported.filter((m) => /refused: 3 handshakes already in progress \(maxPendingHandshakes\)/.test(m)).length, 5)
    // While the cap is full a real client is turned away too; once the idle ones leave, it gets through.
    assert.ok((await rejection(Client(listener.address, { authkey: 'k', timeout: 30_000 }))) instanceof AuthenticationError)
    for (const s of idle) s.destroy()
    await until(() => listener.handshakes.pending === 0)
    const [server, client] = await Promise.all([listener.accept(), Client(listener.address, { authkey: 'k' })])
    client.send('through')
    assert.equal(await server.recv(), 'through')
    assert.deepEqual(listener.handshakes, { pending: 0, accepted: 1, failed: 3, timedOut: 0, refused: 6 })
    client.close()
    server.close()
  })

  it('closes a handshake that does not finish within handshakeTimeout, and says so', async () => {
    const reported: string[] = []
    await using listener = new Listener({ address: tcp, authkey: 'k', handshakeTimeout: 200, onHandshakeError: (error) => reported.push(error.message) })
    await listener.ready
    const idle = [await rawSocket(listener.address), await rawSocket(listener.address)]
    await until(() => listener.handshakes.timedOut === 2)
    assert.deepEqual(listener.handshakes, { pending: 0, accepted: 0, failed: 0, timedOut: 2, refused: 0 })
    assert.equal(reported.filter((m) => /did not finish the handshake within 200 ms/.test(m)).length, 2)
    for (const s of idle) s.destroy()
  })
})


// Listener and Client: framing, the authkey handshake, and a bad peer
// losing only its own connection.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { Listener, Client, AuthenticationError, ConnectionClosedError, EOFError } from '../../src/index.js'
import type { Address } from '../../src/connection/address.js'
import { rejection } from '../helpers.js'

const tcp = { host: '127.0.0.1', port: 0 }

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
  it('a wrong key gets AuthenticationError on both sides, and the listener keeps serving', async () => {
    await using listener = new Listener({ address: tcp, authkey: 'right key' })
    await listener.ready
    const bad = await rejection(Client(listener.address, { authkey: 'wrong key' }))
    assert.ok(bad instanceof AuthenticationError, String(bad))
    const refused = await rejection(listener.accept())
    assert.ok(refused instanceof AuthenticationError, String(refused))
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
    assert.ok((await rejection(listener.accept())) instanceof AuthenticationError)
  })

  it('a client without a key cannot talk to a listener with one', async () => {
    await using listener = new Listener({ address: tcp, authkey: 'k' })
    await listener.ready
    const conn = await Client(listener.address)
    // It reads the challenge as a message, but its own messages never reach accept().
    assert.ok(Buffer.isBuffer(await conn.recv()))
    conn.close()
    assert.ok((await rejection(listener.accept())) instanceof AuthenticationError)
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
    assert.ok((await rejection(listener.accept())) instanceof AuthenticationError)
  })
})

describe('argument errors', () => {
  it('are typed', async () => {
    assert.throws(() => new Listener({ address: { host: '127.0.0.1', port: 70000 } }), RangeError)
    assert.throws(() => new Listener({ authkey: 42 as never }), TypeError)
    await assert.rejects(Client(12 as never), TypeError)
  })
})

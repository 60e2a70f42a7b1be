// Pipe, Connection and wait(): values and bytes both ways, EOF after the
// other end closes, poll timeouts; with a worker on every context.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BufferTooShortError, ConnectionClosedError, EOFError, Pipe, waitConnections } from '../../src/index.js'
import { echo, sendBytesThenClose } from '../fixtures/primitives.js'
import { contexts } from './contexts.js'

describe('Pipe (one thread)', () => {
  it('duplex: both ends send and receive, in order', async () => {
    const [a, b] = Pipe()
    a.send({ hello: 1 })
    a.send([2])
    b.send('back')
    assert.deepEqual(await b.recv(), { hello: 1 })
    assert.deepEqual(await b.recv(), [2])
    assert.equal(await a.recv(), 'back')
  })

  it('one-way: the first end receives, the second sends', async () => {
    const [reader, writer] = Pipe({ duplex: false })
    assert.equal(reader.writable, false)
    assert.equal(writer.readable, false)
    assert.throws(() => reader.send(1), ConnectionClosedError)
    await assert.rejects(writer.recv(), ConnectionClosedError)
    writer.send(1)
    assert.equal(await reader.recv(), 1)
  })

  it('poll waits up to its timeout; recv after the other end closed is an EOFError', async () => {
    const [a, b] = Pipe()
    assert.equal(await a.poll(), false)
    assert.equal(await a.poll({ timeout: 10 }), false)
    b.send('x')
    assert.equal(await a.poll({ timeout: 10 }), true)
    b.close()
    assert.equal(await a.recv(), 'x')
    await assert.rejects(a.recv(), EOFError)
    assert.throws(() => b.send(1), ConnectionClosedError)
  })

  it('bytes: recvBytes with maxlength throws BufferTooShortError carrying the data', async () => {
    const [a, b] = Pipe()
    a.sendBytes(new Uint8Array([1, 2, 3, 4]), 1, 2)
    assert.deepEqual(await b.recvBytes(), new Uint8Array([2, 3]))
    a.sendBytes(new Uint8Array(10))
    const error = await b.recvBytes({ maxlength: 4 }).catch((e: unknown) => e)
    assert.ok(error instanceof BufferTooShortError)
    assert.equal(error.data.byteLength, 10)
  })

  it('wait() returns the connections with something to read, or [] after its timeout', async () => {
    const [a1, b1] = Pipe()
    const [a2, b2] = Pipe()
    assert.deepEqual(await waitConnections([a1, a2], { timeout: 10 }), [])
    b2.send('two')
    assert.deepEqual(await waitConnections([a1, a2]), [a2])
    setTimeout(() => b1.send('one'), 10)
    await a2.recv()
    assert.deepEqual(await waitConnections([a1, a2], { timeout: 60_000 }), [a1])
  })
})

for (const ctx of contexts()) {
  describe(`Pipe with a worker [${ctx.name}]`, () => {
    it('a worker echoes what it receives until told to stop', async () => {
      const [mine, theirs] = Pipe()
      const p = new ctx.Process({ target: echo, args: [theirs] })
      p.start()
      for (let i = 0; i < 50; i++) mine.send(i)
      const got = []
      for (let i = 0; i < 50; i++) got.push(await mine.recv())
      mine.send('stop')
      await p.join()
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => ['echo', i]))
      await assert.rejects(mine.recv(), EOFError)
    })

    it('bytes from a worker, then EOF', async () => {
      const [reader, writer] = Pipe({ duplex: false })
      const p = new ctx.Process({ target: sendBytesThenClose, args: [writer, 5] })
      p.start()
      await p.join()
      for (let i = 0; i < 5; i++) assert.deepEqual(await reader.recvBytes(), new Uint8Array([i, i + 1, i + 2]))
      await assert.rejects(reader.recv(), EOFError)
    })
  })
}

// The caller's side of direct delivery (backends/nats/direct_delivery.ts) on a
// stand-in connection: when a task goes directly, where it is sent, and when
// it goes to the stream instead (busy, given back, silent), counted or not.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DIRECT_PAUSE_MS, DIRECT_REPLY_TIMEOUT_MS, DirectSends } from '../../src/backends/nats/direct_delivery.js'
import { names } from '../../src/backends/nats/protocol.js'

interface Sent {
  subject: string
  reply: string | undefined
}

/** A connection that records what is published and lets the test deliver replies. */
function fakeConnection() {
  const published: Sent[] = []
  const subscriptions = new Map<string, (error: Error | null, msg: { subject: string; data: Uint8Array }) => void>()
  const nc = {
    publish(subject: string, _data: Uint8Array, opts?: { reply?: string }) {
      published.push({ subject, reply: opts?.reply })
    },
    subscribe(subject: string, opts: { callback: (error: Error | null, msg: { subject: string; data: Uint8Array }) => void }) {
      subscriptions.set(subject, opts.callback)
      return { unsubscribe: () => subscriptions.delete(subject) }
    },
  }
  /** Delivers an empty message on `subject` to the subscription whose wildcard covers it. */
  const reply = (subject: string): void => {
    for (const [pattern, callback] of subscriptions) {
      if (subject.startsWith(pattern.replace(/\*$/, ''))) callback(null, { subject, data: new Uint8Array(0) })
    }
  }
  return { nc, published, reply, subscriptions }
}

function sends() {
  const conn = fakeConnection()
  const direct = new DirectSends({ nc: () => conn.nc as never, names: names('px', 'PX'), session: 'sess' })
  const streamed: [string, boolean][] = []
  const send = (id: string): void => direct.send(id, new Uint8Array([1]), (counted) => streamed.push([id, counted]))
  return { conn, direct, streamed, send }
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe('DirectSends', () => {
  it('goes directly only for a lone task: nothing else in flight, nothing queued', () => {
    const { direct } = sends()
    assert.equal(direct.wanted(1, 0), true)
    assert.equal(direct.wanted(2, 0), false)
    assert.equal(direct.wanted(1, 3), false)
    direct.close()
  })

  it("publishes to the workers' direct subject, with a reply subject of the task's own", () => {
    const { conn, direct, send } = sends()
    send('7')
    assert.deepEqual(conn.published, [{ subject: 'px.direct', reply: 'px.s.sess.d.7' }])
    assert.ok(conn.subscriptions.has('px.s.sess.d.*'))
    assert.equal(direct.size, 1)
    direct.close()
    assert.equal(conn.subscriptions.size, 0, 'close lets go of the reply subscription')
  })

  it('a busy answer sends the task to the stream, not counted, once; direct sends pause for a while', () => {
    const { conn, direct, streamed, send } = sends()
    send('a')
    conn.reply('px.s.sess.d.a')
    conn.reply('px.s.sess.d.a')
    assert.deepEqual(streamed, [['a', false]])
    assert.equal(direct.size, 0)
    assert.equal(direct.wanted(1, 0), false, `paused for ${DIRECT_PAUSE_MS} ms`)
    direct.close()
  })

  it('a task given back goes to the stream counted; one that reported is no longer watched', () => {
    const { direct, streamed, send } = sends()
    send('a')
    send('b')
    direct.back(['a'])
    assert.equal(direct.forget('b'), true, 'b was sent directly')
    assert.equal(direct.forget('b'), false)
    direct.back(['b'])
    assert.deepEqual(streamed, [['a', true]])
    direct.close()
  })

  it('silence past the worker’s ack wait sends the task to the stream, counted; `working` keeps it', async () => {
    const { direct, streamed, send } = sends()
    send('quiet')
    send('busy')
    direct.working(['quiet', 'busy'], 100)
    // Only `busy` keeps saying it runs: `quiet` goes to the stream, `busy` stays (bounded wait).
    for (let i = 0; i < 200 && streamed.length === 0; i++) {
      await wait(10)
      direct.working(['busy'], 100)
    }
    assert.deepEqual(streamed, [['quiet', true]])
    for (let i = 0; i < 200 && streamed.length === 1; i++) await wait(10)
    assert.deepEqual(streamed, [['quiet', true], ['busy', true]], 'silent in turn, it goes too')
    direct.close()
  })

  it(`a task nobody spoke of within ${DIRECT_REPLY_TIMEOUT_MS} ms goes to the stream, counted (a worker may have taken it and died)`, async () => {
    const { direct, streamed, send } = sends()
    send('x')
    await wait(DIRECT_REPLY_TIMEOUT_MS / 2)
    assert.deepEqual(streamed, [])
    await wait(DIRECT_REPLY_TIMEOUT_MS)
    assert.deepEqual(streamed, [['x', true]])
    direct.close()
  })
})

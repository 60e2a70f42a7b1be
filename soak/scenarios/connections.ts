// Soak: 1,000 garbage connections against a Listener and a Manager, in
// waves of 100 at once (more than the 64 handshakes a listener runs at a
// time): random bytes, silent sockets, half a handshake (a frame header and
// nothing more), a wrong answer to the challenge. None may be welcomed; the
// Listener must account for each one exactly once (failed, timed out or
// refused) and hand none to accept(); after every wave a real client
// connects (Listener) or a proxy call answers (Manager). The rows count
// garbage connections: `wrong` is one welcomed, not refused, handed to
// accept() or reported twice, or a real client or call that failed.
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { Client, Listener, Manager, type TcpAddress } from '../../src/index.js'
import type { SoakRow, SoakScenario } from '../scenario.js'

/** Connections for the full soak (scale 1). */
const CONNECTIONS = 1000
const WAVE = 100
/** How long a garbage socket stays open at most before it closes itself. */
const HOLD_MS = 300
/** How long a wrong answer may wait for the server's refusal (generous: the machine may be loaded). */
const REFUSAL_MS = 10_000
const KINDS = ['random bytes', 'silent', 'half handshake', 'wrong answer'] as const
type Kind = (typeof KINDS)[number]

const WELCOME = Buffer.from('#WELCOME#')

function frame(kind: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(payload.length + 1, 0)
  head[4] = kind
  return Buffer.concat([head, payload])
}

interface GarbageOutcome {
  /** The peer welcomed us: the handshake passed without the key. */
  welcomed: boolean
  /** The server closed the connection (rather than us, after HOLD_MS). */
  closedByServer: boolean
  /** A wrong answer the server did not refuse and close within REFUSAL_MS. */
  notRefused: boolean
}

/** One garbage connection; settles within about HOLD_MS (REFUSAL_MS for a wrong answer). */
function garbage(address: TcpAddress, kind: Kind): Promise<GarbageOutcome> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: address.host, port: address.port })
    const received: Buffer[] = []
    let closedByServer = true
    let answered = false
    const hold = setTimeout(() => {
      closedByServer = false
      socket.destroy()
    }, kind === 'wrong answer' ? REFUSAL_MS : HOLD_MS)
    socket.on('error', () => {})
    socket.on('connect', () => {
      if (kind === 'random bytes') socket.write(randomBytes(1 + Math.floor(Math.random() * 512)))
    })
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk)
      if (answered) return
      answered = true
      if (kind === 'half handshake') socket.write(Buffer.from([0, 0, 0, 33, 1])) // a 32-byte answer announced, never sent
      else if (kind === 'wrong answer') socket.write(frame(1, randomBytes(32)))
    })
    socket.on('close', () => {
      clearTimeout(hold)
      const all = Buffer.concat(received)
      resolve({ welcomed: all.includes(WELCOME), closedByServer, notRefused: kind === 'wrong answer' && !closedByServer })
    })
  })
}

/** Waits (bounded by `deadline`) until `check()` holds. */
async function until(check: () => boolean, deadline: number): Promise<boolean> {
  while (!check()) {
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return true
}

/** Races `promise` against the deadline; `undefined` when the deadline came first. */
async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))))])
  } finally {
    clearTimeout(timer)
  }
}

/** Counts a wrong outcome and says what it was (shown by the runner with the row). */
function note(row: SoakRow, what: string): void {
  row.wrong++
  if (row.pending === undefined) row.pending = what
  else if (!row.pending.includes(what)) row.pending += `; ${what}`
}

async function flood(address: TcpAddress, total: number, row: SoakRow, afterWave: () => Promise<void>, deadline: number): Promise<void> {
  for (let sent = 0; sent < total; ) {
    const wave: Promise<GarbageOutcome>[] = []
    for (let i = 0; i < WAVE && sent < total; i++, sent++) wave.push(garbage(address, KINDS[sent % KINDS.length]!))
    const outcomes = await beforeDeadline(Promise.all(wave), deadline)
    if (outcomes === undefined) {
      row.hung += wave.length + (total - sent)
      row.pending = `a wave of ${wave.length} garbage connections did not settle; ${total - sent} not sent`
      return
    }
    for (const o of outcomes) {
      if (o.welcomed) note(row, 'a garbage connection was welcomed')
      if (o.notRefused) note(row, `a wrong answer was not refused within ${REFUSAL_MS} ms`)
    }
    await afterWave()
  }
}

async function againstListener(scale: number, deadline: number): Promise<SoakRow> {
  const total = Math.max(KINDS.length * 5, Math.round(CONNECTIONS * scale))
  const row: SoakRow = { tried: total, lost: 0, duplicated: 0, hung: 0, wrong: 0 }
  let reported = 0
  // A short handshake timeout and a small cap, so that both paths are taken under the flood.
  const listener = new Listener({
    address: { host: '127.0.0.1', port: 0 },
    authkey: 'soak',
    handshakeTimeout: HOLD_MS / 2,
    maxPendingHandshakes: 32,
    onHandshakeError: () => reported++,
  })
  await listener.ready
  const address = listener.address as TcpAddress
  let clients = 0
  try {
    await flood(
      address,
      total,
      row,
      async () => {
        // The wave's sockets are closed; once their handshakes are over a real client gets through.
        await until(() => listener.handshakes.pending === 0, deadline)
        clients++
        const got = await beforeDeadline(
          Promise.all([listener.accept(), Client(address, { authkey: 'soak', timeout: 5000 })]).then(async ([server, client]) => {
            client.send('real')
            const ok = (await server.recv()) === 'real'
            server.close()
            client.close()
            return ok
          }),
          deadline,
        ).catch(() => false)
        if (got !== true) note(row, 'a real client did not get through after a wave')
      },
      deadline,
    )
    const h = (): number => listener.handshakes.failed + listener.handshakes.timedOut + listener.handshakes.refused
    await until(() => h() >= total && listener.handshakes.pending === 0, deadline)
    const counts = listener.handshakes
    if (counts.pending > 0) row.hung += counts.pending
    row.lost = Math.max(0, total - h() - counts.pending)
    row.duplicated = Math.max(0, h() - total)
    if (counts.accepted !== clients) note(row, `${counts.accepted - clients} garbage connection(s) handed to accept()`)
    if (reported !== h()) note(row, `onHandshakeError called ${reported} times for ${h()} failed handshakes`)
    if (row.hung > 0 || row.lost > 0 || row.duplicated > 0) row.pending = `${row.pending ?? ''} handshakes: ${JSON.stringify(counts)}`.trim()
  } finally {
    await listener.close()
  }
  return row
}

async function againstManager(scale: number, deadline: number): Promise<SoakRow> {
  const total = Math.max(KINDS.length * 5, Math.round(CONNECTIONS * scale))
  const row: SoakRow = { tried: total, lost: 0, duplicated: 0, hung: 0, wrong: 0 }
  const manager = new Manager({ address: { host: '127.0.0.1', port: 0 } })
  await manager.start()
  try {
    const d = await manager.dict<string, number>()
    let calls = 0
    await flood(
      manager.address as TcpAddress,
      total,
      row,
      async () => {
        calls++
        const ok = await beforeDeadline(
          d.set('calls', calls).then(async () => (await d.get('calls')) === calls),
          deadline,
        ).catch(() => false)
        if (ok === undefined) row.hung++
        else if (!ok) note(row, 'a proxy call failed after a wave')
      },
      deadline,
    )
    // A new program can still connect once the flood is over.
    const other = new Manager({ address: manager.address, authkey: manager.authkey })
    const joined = await beforeDeadline(
      other.connect({ timeout: 5000 }).then(() => true),
      deadline,
    ).catch(() => false)
    if (joined !== true) note(row, 'another program could not connect after the flood')
    await other.shutdown()
  } finally {
    await manager.shutdown()
  }
  return row
}

export const scenarios: SoakScenario[] = [
  { name: '1,000 garbage connections vs Listener', backend: 'inline', run: ({ scale, deadline }) => againstListener(scale, deadline) },
  { name: '1,000 garbage connections vs Manager', backend: 'thread', run: ({ scale, deadline }) => againstManager(scale, deadline) },
]

// A finished task's result is never held back behind a task that waits:
// the caller may be what that task is waiting for (the wait() that never
// woke: a task waits for an Event the caller sets once it has seen the
// previous result). The clock is frozen so the runtime's "flush after 1 ms"
// rule can never fire on its own: the order is forced, not raced. Every
// task after the first calls the already loaded `step`, so the waiting (or
// blocking) task does not yield to the event loop before it waits: its
// module import cannot be what lets the buffered results out.
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { TaskRunner } from '../../src/worker/runtime.js'
import { KIND_CALL, KIND_CHUNK, STATUS_OK, type ChunkOutcome, type FromWorker } from '../../src/wire/messages.js'
import { openGate, resetGate, tasksWaiting } from '../fixtures/unit/held_results.js'

const fixture = new URL('../fixtures/unit/held_results.ts', import.meta.url).href
const realNow = performance.now.bind(performance)

afterEach(() => {
  performance.now = realNow
  resetGate()
})

/**
 * Waits (bounded) until `check()` holds, turning the event loop. Every
 * `assert.ok` here has its own message: without one, a failing assert.ok
 * builds its message by re-parsing this TypeScript file, which took about a
 * minute here and made a failure look like a hang.
 */
async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = realNow() + ms
  while (!check()) {
    if (realNow() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}

function runner(): { runner: TaskRunner; results: unknown[] } {
  const results: unknown[] = []
  const r = new TaskRunner(
    {
      post(message: FromWorker) {
        if (message.t === 'done') for (let i = 0; i < message.r.length; i += 2) results.push(message.r[i] === STATUS_OK ? message.r[i + 1] : 'error')
      },
    },
    { v: 1, label: 'test runner', initializer: null, initargs: [], counters: null },
  )
  return { runner: r, results }
}

/**
 * With the clock frozen (no flush for time), runs double(0) (loads the module), double(5) (its
 * result waits in the buffer), then a chunk of double(1), `middle`, double(3); returns the
 * chunk's values as they arrive, in order (sent ahead, then with the chunk's outcome).
 */
async function chunkAfterHeldResult(middle: unknown[]): Promise<unknown[]> {
  const frozen = realNow() + 1_000_000
  performance.now = () => frozen
  const values: unknown[] = []
  const r = new TaskRunner(
    {
      post(message: FromWorker) {
        if (message.t !== 'done') return
        // Values sent ahead come before the results of the message (the chunk is still running).
        if (message.p !== undefined) values.push(...message.p.v)
        for (let i = 0; i < message.r.length; i += 2) {
          const value = message.r[i + 1]
          if (typeof value === 'object' && value !== null && 'v' in value) values.push(...(value as ChunkOutcome).v)
        }
      },
    },
    { v: 1, label: 'test runner', initializer: null, initargs: [], counters: null },
  )
  await r.start()
  r.receive({
    t: 'run',
    f: [[0, fixture, 'step']],
    q: [KIND_CALL, 0, ['double', 0], KIND_CALL, 0, ['double', 5], KIND_CHUNK, 0, [['double', 1], middle, ['double', 3]]],
  } as never)
  return values
}

describe('TaskRunner result buffering', () => {
  it('sends the results of finished tasks while the next task waits', async () => {
    const frozen = realNow() + 1_000_000
    performance.now = () => frozen
    const { runner: r, results } = runner()
    await r.start()
    // double(1), double(2), then a task that waits until the caller has seen double(2).
    r.receive({
      t: 'run',
      f: [[0, fixture, 'step']],
      q: [KIND_CALL, 0, ['double', 1], KIND_CALL, 0, ['double', 2], KIND_CALL, 0, ['waitForCaller']],
    } as never)
    const delivered = await until(() => results.length >= 2)
    assert.ok(delivered, `the finished results were held behind a waiting task; got ${JSON.stringify(results)}`)
    assert.deepEqual(results, [2, 4])
    assert.equal(tasksWaiting(), 1, 'the last task is not waiting at the gate')
    openGate()
    assert.ok(await until(() => results.length === 3), `the released task's result never came; got ${JSON.stringify(results)}`)
    assert.deepEqual(results, [2, 4, 'released'])
  })

  it('sends the results of finished tasks before a task blocks its thread', async () => {
    const frozen = realNow() + 1_000_000
    performance.now = () => frozen
    const messages: unknown[][] = []
    const r = new TaskRunner(
      {
        post(message: FromWorker) {
          if (message.t === 'done') messages.push(message.r.filter((_, i) => i % 2 === 1))
        },
      },
      { v: 1, label: 'test runner', initializer: null, initargs: [], counters: null },
    )
    await r.start()
    r.receive({
      t: 'run',
      f: [[0, fixture, 'step']],
      q: [KIND_CALL, 0, ['double', 1], KIND_CALL, 0, ['double', 2], KIND_CALL, 0, ['blockThread']],
    } as never)
    assert.ok(await until(() => messages.flat().length === 3), `got ${JSON.stringify(messages)}`)
    // double(2)'s result left before the blocking task ran, not with its result.
    assert.deepEqual(messages, [[2], [4], ['blocked']])
  })

  it('keeps every value of a chunk whose item blocks its thread after values were sent ahead', async () => {
    // The chunk's second item blocks, which sends the buffer and the chunk's first value, so the
    // chunk's later values go to a new part.
    const values = await chunkAfterHeldResult(['blockThread'])
    assert.ok(await until(() => values.length >= 3), `got ${JSON.stringify(values)}`)
    assert.deepEqual(values, [2, 'blocked', 6])
  })

  it('keeps the value of a chunk item that awaited while the values before it were sent ahead', async () => {
    resetGate()
    // While the chunk's second item awaits the gate, the event loop turns and sends the buffer with
    // the chunk's first value, so the awaited value must go to the new part, not to the one sent.
    const values = await chunkAfterHeldResult(['waitForCaller'])
    assert.ok(await until(() => tasksWaiting() === 1 && values.length >= 1), `got ${JSON.stringify(values)}`)
    openGate()
    assert.ok(await until(() => values.length >= 3), `got ${JSON.stringify(values)}`)
    assert.deepEqual(values, [2, 'released', 6])
  })

  it('still sends a burst of quick tasks as one message', async () => {
    let messages = 0
    const results: unknown[] = []
    const r = new TaskRunner(
      {
        post(message: FromWorker) {
          messages++
          if (message.t === 'done') for (let i = 0; i < message.r.length; i += 2) results.push(message.r[i + 1])
        },
      },
      { v: 1, label: 'test runner', initializer: null, initargs: [], counters: null },
    )
    await r.start()
    messages = 0
    const q: unknown[] = []
    for (let i = 0; i < 100; i++) q.push(KIND_CALL, 0, [i])
    const frozen = realNow() + 1_000_000
    performance.now = () => frozen
    r.receive({ t: 'run', f: [[0, fixture, 'quick']], q } as never)
    assert.ok(await until(() => results.length === 100), `got ${results.length} results`)
    assert.ok(messages <= 2, `100 quick tasks went out in ${messages} messages`)
  })
})

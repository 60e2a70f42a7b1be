// A worker takes the messages that arrived while its tasks ran before it
// answers (RuntimePort.poll), so their results leave together: a caller
// that keeps a few tasks in flight does not fall into one message per task
// each way. The clock is stopped so the runtime's "flush after 1 ms" rule
// cannot split the answer on its own.
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { TaskRunner } from '../../src/worker/runtime.js'
import { KIND_CALL, type FromWorker, type ToWorker } from '../../src/wire/messages.js'

const fixture = new URL('../fixtures/unit/held_results.ts', import.meta.url).href
const realNow = performance.now.bind(performance)

afterEach(() => {
  performance.now = realNow
})

function run(values: number[], first: boolean): ToWorker {
  const q: unknown[] = []
  for (const v of values) q.push(KIND_CALL, 0, ['double', v])
  return { t: 'run', f: first ? [[0, fixture, 'step']] : undefined, q } as never
}

describe('TaskRunner polling its port', () => {
  it('answers the messages that arrived while it ran in one message', async () => {
    // Stopped at 0, where the buffer was last sent: never 1 ms later.
    performance.now = () => 0
    const waiting: ToWorker[] = [run([2], false), run([3, 4], false), { t: 'stop' }]
    const messages: unknown[][] = []
    let stopped = false
    const r = new TaskRunner(
      {
        post(message: FromWorker) {
          if (message.t === 'done') messages.push(message.r.filter((_, i) => i % 2 === 1))
        },
        poll: () => waiting.shift(),
      },
      { v: 1, label: 'test runner', initializer: null, initargs: [], counters: null },
    )
    r.onStop = () => {
      stopped = true
    }
    await r.start()
    r.receive(run([1], true))
    const end = realNow() + 10_000
    while (!stopped && realNow() < end) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.ok(stopped, 'the stop message taken by poll was not acted on')
    assert.deepEqual(messages, [[2, 4, 6, 8]])
    assert.equal(waiting.length, 0)
  })
})

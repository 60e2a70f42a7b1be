// The wait() that never woke: CPython's FIRST_EXCEPTION scenario, on one
// worker so the three tasks queue behind each other. waitAndRaise can only
// finish after the caller has seen mul's result and set event1; a worker
// that held mul's (or waitAndRaise's) result while the next task waited made
// wait() hang. Each round is bounded (10 s, generous for a loaded machine); the full stress is `npm run stress:wait`.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Event, FIRST_EXCEPTION, wait } from '../../src/index.js'
import { backends } from '../conformance/backends.js'
import * as T from '../../soak/stress_wait_tasks.js'

const ROUNDS = 10

for (const backend of backends().filter((b) => b.sameMachine)) {
  const forms = backend.name === 'thread' ? (['async', 'sync'] as const) : (['async'] as const)
  describe(`wait(FIRST_EXCEPTION) wakes [${backend.name}]`, () => {
    for (const form of forms) {
      it(`${ROUNDS} rounds of mul, waitAndRaise(event1), eventWait(event2) with ${form} waits`, async () => {
        const executor = backend.create({ maxWorkers: 1 })
        try {
          for (let round = 0; round < ROUNDS; round++) {
            const event1 = new Event()
            const event2 = new Event()
            const fs = [
              executor.submit(T.mul, 2, 21),
              executor.submit(form === 'sync' ? T.waitAndRaiseSync : T.waitAndRaise, event1),
              executor.submit(form === 'sync' ? T.eventWaitSync : T.eventWait, event2),
            ]
            const setter = (async () => {
              await fs[0]
              event1.set()
            })()
            const { done, notDone } = await wait(fs, { returnWhen: FIRST_EXCEPTION, timeout: 10_000 })
            event1.set()
            event2.set()
            await setter
            await Promise.allSettled(fs)
            assert.ok(done.has(fs[0]!) && done.has(fs[1]!) && notDone.size === 1, `round ${round}: wait() returned after 10 s with ${done.size} done of 3`)
            assert.equal(await fs[0], 42)
            await assert.rejects(Promise.resolve(fs[1]), /raised after the event/)
          }
        } finally {
          await executor.shutdown()
        }
      })
    }
  })
}

// The short form of `npm run stress:wait`: every primitive's ping-pong, on
// the main thread, in worker threads and through the broker, without the
// CPU load. Every wait is bounded, so a lost wake-up is a counted failure.
describe('wait/notify ping-pong of every primitive (short stress)', () => {
  it('no wait times out, no value is wrong', async () => {
    const { runStress } = await import('../../soak/stress_wait.js')
    const rows = await runStress({ iterations: 100, rounds: 0, scenarios: false, waitMs: 5000, deadline: Date.now() + 120_000 })
    assert.equal(rows.length, 22)
    const failed = rows.filter((r) => r.timedOut > 0 || r.wrong > 0 || r.hung !== undefined)
    assert.deepEqual(failed, [])
  })
})

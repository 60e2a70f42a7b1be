// RetryPolicy: which errors run a task again, and the waits between runs.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { RetryPolicy } from '../../src/futures/retry_policy.js'
import { RemoteError } from '../../src/errors.js'

describe('RetryPolicy', () => {
  it('waits initial × factor^(n-1), capped at max; with jitter a random 50-100 % of it', () => {
    const exact = RetryPolicy.from([Error], { initial: 100, factor: 3, max: 1000, jitter: false }, 'test')!
    assert.deepEqual([1, 2, 3, 4].map((n) => exact.delay(n)), [100, 300, 900, 1000])
    const jittered = RetryPolicy.from([Error], { initial: 100, factor: 2, max: 10_000 }, 'test')!
    for (let n = 1; n <= 8; n++) {
      const full = Math.min(10_000, 100 * 2 ** (n - 1))
      const d = jittered.delay(n)
      assert.ok(d >= full / 2 && d <= full, `run ${n}: ${d} within [${full / 2}, ${full}]`)
    }
  })

  it('matches by class, by the class name of a RemoteError, and by name or code', () => {
    class Flaky extends Error {}
    const policy = RetryPolicy.from([Flaky, 'ECONNRESET'], undefined, 'test')!
    assert.equal(policy.matches(new Flaky('x'), 1), true)
    assert.equal(policy.matches(new RemoteError('x', 'Flaky'), 1), true)
    assert.equal(policy.matches(Object.assign(new Error('x'), { code: 'ECONNRESET' }), 1), true)
    assert.equal(policy.matches(new TypeError('x'), 1), false)
    assert.equal(policy.matches('a thrown string', 1), false)
  })

  it('a predicate that throws runs nothing again and says so in a warning', async () => {
    const policy = RetryPolicy.from(() => {
      throw new Error('predicate bug')
    }, undefined, 'test')!
    const warned = once(process, 'warning')
    assert.equal(policy.matches(new Error('x'), 1), false)
    const [warning] = (await warned) as [Error & { code?: string }]
    assert.equal(warning.code, 'MP_RETRY_ON')
    assert.match(warning.message, /predicate bug/)
  })

  it('needs retries to act', () => {
    assert.throws(() => RetryPolicy.needsRetries(0, 'options'), (e: Error) => e instanceof RangeError && /give `retries` too/.test(e.message))
    assert.doesNotThrow(() => RetryPolicy.needsRetries(1, 'options'))
  })
})

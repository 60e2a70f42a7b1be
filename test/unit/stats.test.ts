// The fixed-bucket histogram behind executor.stats().
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { Histogram } from '../../src/futures/stats.js'

it('an empty histogram reads zeros', () => {
  assert.deepEqual(new Histogram().snapshot(), { count: 0, mean: 0, max: 0, p50: 0, p90: 0, p99: 0, buckets: [] })
})

it('percentiles are read from the buckets, monotone, and never above the largest value', () => {
  const h = new Histogram()
  for (let i = 1; i <= 1000; i++) h.record(i / 10) // 0.1 .. 100 ms, uniform
  const s = h.snapshot()
  assert.equal(s.count, 1000)
  assert.equal(s.max, 100)
  assert.ok(Math.abs(s.mean - 50.05) < 1e-9)
  assert.ok(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max)
  // Within the 1-2-5 bucket that holds the true value.
  assert.ok(s.p50 > 20 && s.p50 <= 50, `p50 ${s.p50}`)
  assert.ok(s.p90 > 50 && s.p90 <= 100, `p90 ${s.p90}`)
  assert.deepEqual(
    s.buckets.map((b) => b.le),
    [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100],
  )
  assert.equal(s.buckets.reduce((n, b) => n + b.count, 0), 1000)
})

it('records several durations at once, and values past the last bound in an overflow bucket', () => {
  const h = new Histogram()
  h.record(0.005, 9)
  h.record(250_000)
  const s = h.snapshot()
  assert.equal(s.count, 10)
  assert.deepEqual(s.buckets, [
    { le: 0.01, count: 9 },
    { le: Infinity, count: 1 },
  ])
  assert.ok(s.p50 <= 0.01)
  assert.equal(s.p99 <= 250_000, true)
  assert.equal(s.max, 250_000)
})

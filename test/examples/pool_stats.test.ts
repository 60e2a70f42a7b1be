// examples/pool_stats.ts prints the pool's stats every second while it runs, and the counts add up.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('prints stats while the pool runs; the final counts match what was submitted', async () => {
  const r = await runScript('examples/pool_stats.ts', ['200'], { timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  const stats = lines.filter((l) => /^\d+\/\d+ done/.test(l))
  assert.ok(stats.length >= 2, `a line per second and a last one:\n${r.stdout}`)
  assert.match(stats.at(-1)!, /^200\/200 done \(4 failed\), 0 queued, 0 running \| run p50 [\d.]+ ms p99 [\d.]+ ms \| wait p99 [\d.]+ ms \| workers busy \d+%/)
  assert.ok(lines.includes('finished: 196 succeeded, 4 failed'), r.stdout)
  assert.match(r.stdout, /^run time histogram \(ms ≤ bound: tasks\): .*\d+: \d+/m)
})

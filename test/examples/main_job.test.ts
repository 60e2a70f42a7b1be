// examples/main_job.ts (npm start): the generated input through 1 and all CPUs, in order, with speedup.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('processes the generated input on 1 worker and on every CPU, in order, and prints the speedup', async () => {
  const r = await runScript('examples/main_job.ts', ['--lines', '400'], { timeoutMs: 110_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^multiproc demo: 400 lines, cpuCount\(\) = \d+ \(decided by [\w-]+\)$/m)
  assert.match(r.stdout, /^1 worker : [\d.]+ s, [\d,]+ lines\/s$/m)
  assert.match(r.stdout, /^speedup [\d.]+x on \d+ CPUs; all 400 lines in input order$/m)
  // One-off costs (workers starting, the task module compiled in each) are kept out of the timed runs, and said so.
  assert.match(r.stdout, /^both times are of warm workers: .* took \d+ ms \(1 worker\) and \d+ ms \(\d+ workers\) before$/m)
})

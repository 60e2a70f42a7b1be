// examples/cpu_fallback.ts takes the inline path on one CPU and cpuCount() - 1 workers otherwise.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('runs inline when cpuCount() is 1', async () => {
  const r = await runScript('examples/cpu_fallback.ts', [], { env: { MULTIPROC_CPU_COUNT: '1' }, timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^cpuCount\(\) = 1: InlineExecutor/m)
  assert.match(r.stdout, /sum of squares below 100000 in 8 parts: 333328333350000 \(correct\)/)
  assert.match(r.stdout, /^tasks ran on: main thread of process N$/m)
})

it('uses cpuCount() - 1 worker threads otherwise', async () => {
  const r = await runScript('examples/cpu_fallback.ts', [], { env: { MULTIPROC_CPU_COUNT: '3' }, timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^cpuCount\(\) = 3: ThreadPoolExecutor with 2 workers/m)
  assert.match(r.stdout, /sum of squares below 100000 in 8 parts: 333328333350000 \(correct\)/)
  assert.match(r.stdout, /^tasks ran on: worker thread N$/m)
})

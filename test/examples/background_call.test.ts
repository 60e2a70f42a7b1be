// examples/background_call.ts: the main thread works while the call runs, then picks up the result.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('does other work while the background call runs, then picks up its result', async () => {
  const r = await runScript('examples/background_call.ts', [], { env: { PRIMES_BELOW: '200000' }, timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.equal(lines[0], 'submitted countPrimes(200000); the call runs in the background')
  const work = lines.findIndex((l) => /^main thread: \d+ steps of other work while the call ran/.test(l))
  const result = lines.indexOf('result picked up: 17984 primes below 200000')
  assert.ok(work > 0 && result > work, r.stdout)
  assert.ok(lines.includes('done callback: the background call finished'))
})

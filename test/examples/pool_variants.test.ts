// examples/pool_variants.ts: every Pool call gives the right results, imap in input order.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('shows apply, applyAsync, map, mapAsync, starmap, imap and imapUnordered with their ordering', async () => {
  const r = await runScript('examples/pool_variants.ts', [], { timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  const value = (label: string) => r.stdout.split('\n').find((l) => l.startsWith(label))?.slice(34).trim()
  assert.equal(value('apply(square, [7])'), '49')
  assert.equal(value('applyAsync callback got'), '64')
  assert.equal(value('applyAsync(square, [8]).get()'), '64')
  assert.equal(value('map(square, 0..9)'), '0 1 4 9 16 25 36 49 64 81')
  assert.equal(value('mapAsync(square, [10, 11, 12])'), '100 121 144')
  assert.equal(value('starmap(add, [[1,2],[3,4],[5,6]])'), '3 7 11')
  assert.equal(value('imap (input order)'), '1 4 9 16 25 36')
  assert.deepEqual(value('imapUnordered (finishing order)')!.split(' ').map(Number).sort((a, b) => a - b), [1, 4, 9, 16, 25, 36])
  assert.equal(value('same results, other order'), 'true')
  // The callback runs before get() returns.
  assert.ok(r.stdout.indexOf('applyAsync callback got') < r.stdout.indexOf('applyAsync(square, [8]).get()'))
})

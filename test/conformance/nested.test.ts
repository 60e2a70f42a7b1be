// Nested pools: a task may create its own Pool or executor (Python forbids it
// for daemonic processes), and the worker budget keeps them from multiplying.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cpuCount } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'
import { runScript } from '../helpers.js'

const topBudget = Number(process.env.MULTIPROC_MAX_WORKERS) || cpuCount()

for (const backend of backends().filter((b) => b.isolated)) {
  describe(`nested pools [${backend.name}]`, () => {
    for (const inner of ['thread', 'process', 'inline'] as const) {
      it(`a task uses a ${inner} pool of its own, sized to its share of the budget`, async () => {
        await using ex = backend.create({ maxWorkers: 2 })
        const share = Math.max(1, Math.floor(topBudget / 2))
        const results = await Promise.all([ex.submit(T.nestedSquares, 100, inner), ex.submit(T.nestedSquares, 50, inner, 64)])
        assert.equal(results[0].sum, 328_350)
        assert.equal(results[1].sum, 40_425)
        for (const r of results) {
          assert.equal(r.budget, String(share), 'the worker was given its share')
          assert.equal(r.processes, inner === 'inline' ? 1 : share, 'the nested pool is capped at the share, even when asked for 64')
          if (inner !== 'inline') assert.notEqual(r.inner, r.outer, 'the inner task ran in a worker of the nested pool')
        }
      })
    }

    it('pools nest several levels deep', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      assert.equal(await ex.submit(T.nestDeeper, 3, backend.name === 'process' ? 'process' : 'thread'), 3)
    })
  })
}

describe('worker budget', () => {
  it('MULTIPROC_MAX_WORKERS caps executors, bounds their workers together, and gives workers their share', async () => {
    const result = await runScript('test/fixtures/programs/budget.ts', [], { env: { MULTIPROC_MAX_WORKERS: '3' }, timeoutMs: 30_000 })
    assert.equal(result.code, 0, result.stderr)
    const out = JSON.parse(result.stdout)
    assert.equal(out.aMax, 3)
    assert.equal(out.bMax, 3)
    // a took the whole budget; b still gets one worker, so that it makes progress.
    assert.deepEqual(out.started, { a: 3, b: 1 })
    assert.equal(out.share, '1', 'floor(3 / 3)')
  })
})

// Whether an executor keeps its program alive, on every backend: each test runs
// a program of its own (test/fixtures/programs) and checks how it ends.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { backends } from './backends.js'
import { runScript } from '../helpers.js'

for (const backend of backends()) {
  describe(`program lifetime [${backend.name}]`, () => {
    if (backend.exitsWhenIdle) {
      it('an idle executor does not keep the program alive, even without shutdown()', async () => {
        const result = await runScript('test/fixtures/programs/forgot_shutdown.ts', [backend.name], { timeoutMs: 20_000 })
        assert.equal(result.code, 0, result.stderr)
        assert.match(result.stdout, /result 49/)
      })
    }

    it('a pending Future keeps the program alive: idle workers between tasks, a map fed by the executor, a retried crash', async () => {
      const result = await runScript('test/fixtures/programs/pending_futures.ts', [backend.name], { timeoutMs: 60_000 })
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /map 1,4,9,16,25,36\nfed 1,16,81,256\n(retried second time lucky\n)?done\n/)
    })

    it('a failed Future that nobody awaits makes no unhandled-rejection noise', async () => {
      const result = await runScript('test/fixtures/programs/unawaited_failure.ts', [backend.name], { timeoutMs: 20_000 })
      assert.equal(result.code, 0, result.stderr)
      assert.doesNotMatch(result.stderr, /Unhandled|unhandled/)
      assert.match(result.stdout, /settled FINISHED/)
    })
  })
}

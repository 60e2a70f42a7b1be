// examples/io_bound.ts fetches pages one request at a time per worker, then many at once, in input order both times.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('fetches every page in input order, one per worker at a time and many at once', async () => {
  const r = await runScript('examples/io_bound.ts', ['40'], { timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 2, r.stdout)
  assert.match(lines[0]!, /^concurrentTasksPerWorker 1: 40 pages in \d+ ms, in input order$/)
  assert.match(lines[1]!, /^concurrentTasksPerWorker 32: 40 pages in \d+ ms, in input order$/)
})

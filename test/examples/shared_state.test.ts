// examples/shared_state.ts: a SharedMemory block changed in place by child processes,
// a Manager's dict, Value and Lock used from worker threads.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('child processes change a shared block in place; a Manager dict collects every slice under a lock', async () => {
  const r = await runScript('examples/shared_state.ts', [], { timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^slice sums 500000, 500000, 500000, 500000; xs\[0\] is now 2 in the caller \((posix|sharedarraybuffer)\)\n/)
  for (const slice of [0, 1, 2, 3]) assert.match(r.stdout, new RegExp(`'slice ${slice}' => 500000`))
  assert.match(r.stdout, /\} total 2000000\n$/)
})

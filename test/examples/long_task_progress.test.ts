// examples/long_task_progress.ts: a long task reports progress, the caller draws a bar that ends at 100 %.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

it('draws a bar from the task’s progress reports, ending at 100 %, and prints the result', async () => {
  const r = await runScript('examples/long_task_progress.ts', ['30', '20'], { timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^rendered 30 frames, checksum \d+$/m)
  const heard = Number(/heard (\d+) progress reports for 30 frames/.exec(r.stdout)?.[1])
  // 30 frames × 20 ms = 600 ms of work: throttled to about one report per 50 ms, never all 30.
  assert.ok(heard >= 2 && heard < 30, `heard ${heard}`)
  assert.match(r.stderr, /\r\[#{24}\] 100%  30 frames  [\d,]+ frames\/s  ETA 0:00\x1b\[K\n$/)
})

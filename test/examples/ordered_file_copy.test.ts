// examples/ordered_file_copy.ts: a 10,000-line file through 3 workers, every line in place.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runScript } from '../helpers.js'

it('copies the generated 10,000-line file with every line in its place', async () => {
  const r = await runScript('examples/ordered_file_copy.ts', [], { timeoutMs: 110_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^copied 10000 lines through 3 workers: every line in its place$/m)
  const counts = /lines per worker: ([\d, ]+)/.exec(r.stdout)![1]!.split(', ').map(Number)
  assert.equal(counts.reduce((a, b) => a + b, 0), 10_000)
})

it('copies a file given on the command line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-copy-test-'))
  try {
    const input = join(dir, 'in.txt')
    const lines = Array.from({ length: 500 }, (_, i) => `${i}\t${'x'.repeat(i % 13)}`)
    writeFileSync(input, lines.join('\n') + '\n')
    const r = await runScript('examples/ordered_file_copy.ts', [input, join(dir, 'out.txt')], { timeoutMs: 90_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), lines.join('\n') + '\n')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

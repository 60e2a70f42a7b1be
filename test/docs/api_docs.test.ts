// The API reference builds from the TSDoc comments with no warning: every
// exported symbol is documented, every link resolves, and every type a
// public signature names is exported (or listed in typedoc.json as
// intentionally not). typedoc.json turns warnings into errors.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { root } from '../helpers.js'

it('npm run docs passes: TypeDoc reports no warning and no error', () => {
  const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc')
  const r = spawnSync(process.execPath, [typedoc, '--emit', 'none'], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } })
  const output = `${r.stdout}${r.stderr}`
  assert.equal(r.status, 0, output)
  assert.doesNotMatch(output, /\[(warning|error)\]/, output)
})

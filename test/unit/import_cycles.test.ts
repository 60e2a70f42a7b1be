// src/ keeps its imports running one way: scripts/import_cycles.mjs finds
// none, and it does find one when there is one.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importCycles, loadedBy } from '../../scripts/import_cycles.mjs'

function cyclesIn(files: Record<string, string>): string[][] {
  const dir = mkdtempSync(join(tmpdir(), 'mp-cycles-'))
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    return (importCycles(dir) as string[][]).map((cycle) => cycle.map((path) => path.slice(path.lastIndexOf('/') + 1)))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('import cycles', () => {
  it('src/ has none', () => {
    assert.deepEqual(importCycles(), [])
  })

  it('Pool, Process and the worker runtime load neither the context module nor the cluster executor', () => {
    for (const file of ['src/pool.ts', 'src/process.ts', 'src/worker/runtime.ts']) {
      const loaded = loadedBy(file) as string[]
      assert.ok(!loaded.includes('src/context.ts'), `${file} loads src/context.ts`)
      assert.ok(!loaded.some((f) => f.startsWith('src/backends/nats/') && f !== 'src/backends/nats/capabilities.ts'), `${file} loads the cluster: ${loaded.join(', ')}`)
    }
  })

  it('a cycle of imports and re-exports is found, over several modules', () => {
    const cycles = cyclesIn({
      'a.ts': "import { b } from './b.js'\nexport const a = b",
      'b.ts': "export { c as b } from './c.js'",
      'c.ts': "import {\n  a,\n} from './a.js'\nexport const c = () => a",
      'd.ts': "import { a } from './a.js'\nexport const d = a",
    })
    assert.deepEqual(cycles, [['a.ts', 'b.ts', 'c.ts']])
  })

  it('`import { type X }` loads the module (verbatimModuleSyntax keeps it), `import type` does not', () => {
    assert.deepEqual(cyclesIn({ 'a.ts': "import { type B } from './b.js'\nexport type A = B", 'b.ts': "import type { A } from './a.js'\nexport type B = A" }), [])
    assert.deepEqual(cyclesIn({ 'a.ts': "import { type B } from './b.js'\nexport type A = B", 'b.ts': "import { type A } from './a.js'\nexport type B = A" }), [['a.ts', 'b.ts']])
  })

  it('imports in comments and dynamic import() are not edges', () => {
    assert.deepEqual(cyclesIn({ 'a.ts': "// import { b } from './b.js'\nexport const a = () => import('./b.js')", 'b.ts': "import { a } from './a.js'\nexport const b = a" }), [])
  })
})

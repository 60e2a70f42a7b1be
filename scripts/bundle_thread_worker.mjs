#!/usr/bin/env node
// Writes dist/worker/thread_worker.cjs: the start graph of a worker thread
// (worker/bootstrap.js and the modules it imports statically) as ONE
// CommonJS file. Run after tsc (npm run build).
//
//   node scripts/bundle_thread_worker.mjs [DIR]   DIR: the compiled src (default dist; the bench: .bench-out/src)
//
// Why: Node's ESM loader costs about a millisecond per module in a fresh
// thread, and a worker's start graph is some fourteen modules; one CommonJS
// file starts a pool of 1 about as fast as a bare Worker (docs/architecture.md).
//
// What stays out: every dynamic import() (lanes, progress, the shareable
// codec, task modules) stays an import() of the real dist module, so a task
// that imports multiproc itself shares those modules with the worker (one
// copy: revived Locks and Queues, error classes, instanceof). The modules
// the start graph copies keep their shared state on globalThis (see
// sync/monitor.ts) and compare brands, not classes (wire/remote_error.ts).
//
// The file sits in dist/worker/, the depth of the modules it copies, so
// their import.meta.url-relative paths (wire/library_module.ts ROOT,
// wire/remote_error.ts workerDir) stay right.
import { build } from 'esbuild'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const dir = args.find((a) => !a.startsWith('--'))
const workerDir = join(dir === undefined ? join(root, 'dist') : resolve(dir), 'worker')
const entry = join(workerDir, 'bootstrap.js')
const outfile = join(workerDir, 'thread_worker.cjs')

/** Dynamic imports of our own modules: external, by a specifier relative to the bundle file. */
const keepDynamicImports = {
  name: 'keep-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined
      const target = resolve(args.resolveDir, args.path)
      let specifier = relative(dirname(outfile), target).split(sep).join('/')
      if (!specifier.startsWith('.')) specifier = `./${specifier}`
      return { path: specifier, external: true }
    })
  },
}

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The copied modules locate files relative to themselves; in CommonJS, relative to this file.
  define: { 'import.meta.url': '__mp_import_meta_url' },
  banner: { js: "'use strict';\nvar __mp_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [keepDynamicImports],
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
})

// Guard the rule above: a static import of a module outside the start graph,
// or a top-level await, would show up here first.
const inputs = Object.keys(result.metafile.inputs)
const outputs = Object.values(result.metafile.outputs)
const external = outputs.flatMap((o) => o.imports.filter((i) => i.external && !i.path.startsWith('node:')))
for (const i of external) {
  if (i.kind !== 'dynamic-import') throw new Error(`thread_worker.cjs: ${i.path} is external but imported statically (${i.kind})`)
}
if (process.argv.includes('--verbose')) {
  console.log(`thread_worker.cjs: ${inputs.length} modules bundled:\n  ${inputs.join('\n  ')}`)
  console.log(`kept as import(): ${[...new Set(external.map((i) => i.path))].join(', ')}`)
}

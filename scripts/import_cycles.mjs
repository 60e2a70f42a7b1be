#!/usr/bin/env node
// Fails when the modules under src/ import each other in a cycle.
//
// An edge is every static import or re-export that stays in the emitted
// JavaScript: `import type` and `export type` are erased and cannot change
// the order modules load in, so they are left out; `import { type X }` is
// kept, because under verbatimModuleSyntax it still emits `import {} from`,
// which loads the module. Dynamic `import()` runs after loading and is left
// out too. A cycle of runtime edges makes the load order depend on which
// module is imported first (a class read before its module ran is a
// ReferenceError), so src/ keeps its imports running one way.
//
//   node scripts/import_cycles.mjs          prints each cycle, exits 1 if any
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Every .ts/.cts/.mts file under `dir`. */
function sources(dir) {
  const out = []
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (/\.[cm]?ts$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path)
  }
  return out
}

// `import ... from '...'`, `export ... from '...'` and `import '...'`, over several lines.
const STATEMENT = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]|(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g

/** The relative modules `file` loads at run time, as absolute paths of sources. */
export function runtimeImports(file, text) {
  const edges = []
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
  for (const match of code.matchAll(STATEMENT)) {
    const typeOnly = match[2] !== undefined
    const specifier = match[4] ?? match[5]
    if (typeOnly || !specifier.startsWith('.')) continue
    const target = resolve(dirname(file), specifier).replace(/\.([cm]?)js$/, '.$1ts')
    edges.push(target)
  }
  return edges
}

/** The modules `file` loads at run time, itself included, as paths relative to the root. */
export function loadedBy(file) {
  const seen = new Set()
  const todo = [resolve(root, file)]
  while (todo.length > 0) {
    const next = todo.pop()
    if (seen.has(next)) continue
    seen.add(next)
    todo.push(...runtimeImports(next, readFileSync(next, 'utf8')).filter((target) => target.startsWith(join(root, 'src'))))
  }
  return [...seen].map((f) => relative(root, f)).sort()
}

/** The cycles among the modules under `dir`, each as a list of paths relative to the root. */
export function importCycles(dir = join(root, 'src')) {
  const files = sources(dir)
  const known = new Set(files)
  const graph = new Map(files.map((file) => [file, runtimeImports(file, readFileSync(file, 'utf8')).filter((t) => known.has(t))]))
  // Tarjan's strongly connected components: a component of more than one
  // module (or a module importing itself) is a cycle.
  let index = 0
  const indices = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const cycles = []
  const visit = (v) => {
    indices.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v)) {
      if (!indices.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), indices.get(w)))
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component = []
      let w
      do {
        w = stack.pop()
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || graph.get(v).includes(v)) cycles.push(component.map((f) => relative(root, f)).sort())
    }
  }
  for (const file of files) if (!indices.has(file)) visit(file)
  return cycles
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cycles = importCycles()
  for (const cycle of cycles) console.error(`import cycle among: ${cycle.join(', ')}`)
  if (cycles.length > 0) process.exit(1)
  console.log('src/: no import cycle')
}

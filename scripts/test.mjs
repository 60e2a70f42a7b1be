#!/usr/bin/env node
// Runs the test suite: every *.test.ts under test/ with Node's test runner,
// TypeScript through tsx. Extra arguments select files or pass runner flags:
//   npm test                          all tests
//   npm test -- test/unit             one folder
//   npm test -- --test-name-pattern=map
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const flags = args.filter((a) => a.startsWith('--'))
const targets = args.filter((a) => !a.startsWith('--'))

function collect(path, out) {
  const stat = statSync(path)
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out)
  } else if (/\.test\.(ts|mts|js|mjs)$/.test(path)) {
    out.push(relative(root, path))
  }
  return out
}

const files = []
for (const target of targets.length > 0 ? targets : ['test']) collect(join(root, target), files)
if (files.length === 0) {
  console.error(`No test files found in ${targets.join(', ') || 'test/'}`)
  process.exit(1)
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=300000', '--test-concurrency=2', ...flags, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: process.env.NODE_NO_WARNINGS ?? '' } },
)
process.exit(result.status ?? 1)

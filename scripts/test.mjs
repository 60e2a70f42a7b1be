#!/usr/bin/env node
// Runs the test suite: every *.test.ts under test/ with Node's test runner,
// TypeScript through tsx. Extra arguments select files or pass runner flags:
//   npm test                          all tests
//   npm test -- test/unit             one folder
//   npm test -- --test-name-pattern=map
//
// Two bounds keep a hung test from hanging the suite:
// - each test (it/test) fails after TEST_TIMEOUT_MS (scripts/test_timeout.mjs,
//   preloaded into every test file's process);
// - each file fails after FILE_TIMEOUT_MS: Node 20's `--test-timeout` bounds a
//   whole file's process, not each test in it.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const TEST_TIMEOUT_MS = 120_000
export const FILE_TIMEOUT_MS = 300_000

/** The test files under `targets` (files or folders, relative to the root; default: test/), sorted. */
export function testFiles(targets = []) {
  const out = []
  const collect = (path) => {
    const stat = statSync(path)
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) collect(join(path, entry))
    } else if (/\.test\.(ts|mts|js|mjs)$/.test(path)) {
      out.push(relative(root, path))
    }
  }
  for (const target of targets.length > 0 ? targets : ['test']) {
    if (!existsSync(resolve(root, target))) throw new Error(`No such test file or folder: ${target}`)
    collect(resolve(root, target))
  }
  return out
}

/** Node's arguments for running test files, before any extra runner flags and the files. */
export function runnerArgs({ fileTimeoutMs = FILE_TIMEOUT_MS } = {}) {
  return ['--import', 'tsx', '--import', new URL('./test_timeout.mjs', import.meta.url).href, '--test', `--test-timeout=${fileTimeoutMs}`]
}

/** The environment of a test run: MULTIPROC_TEST_TIMEOUT_MS tells the preload the per-test bound. */
export function runnerEnv(env = process.env) {
  return { ...env, NODE_NO_WARNINGS: env.NODE_NO_WARNINGS ?? '', MULTIPROC_TEST_TIMEOUT_MS: env.MULTIPROC_TEST_TIMEOUT_MS ?? String(TEST_TIMEOUT_MS) }
}

function main() {
  const args = process.argv.slice(2)
  const flags = args.filter((a) => a.startsWith('--'))
  const targets = args.filter((a) => !a.startsWith('--'))
  let files
  try {
    files = testFiles(targets)
  } catch (error) {
    console.error(error.message)
    process.exit(1)
  }
  if (files.length === 0) {
    console.error(`No test files found in ${targets.join(', ') || 'test/'}`)
    process.exit(1)
  }
  const result = spawnSync(process.execPath, [...runnerArgs(), '--test-reporter=spec', '--test-concurrency=2', ...flags, ...files], {
    cwd: root,
    stdio: 'inherit',
    env: runnerEnv(),
  })
  process.exit(result.status ?? 1)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main()

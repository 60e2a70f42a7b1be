#!/usr/bin/env node
// Compiles the POSIX shared memory addon (native/shm.c) from source into
// build/Release, offline: npm's own node-gyp, pointed at the headers of the
// running Node (no download). The package ships prebuilt addons
// (prebuilds/, see build_prebuilds.mjs), so this is the fallback for a
// platform without one (`npm run build:native` in a checkout). Nothing runs
// it at install: the package has no install, prepare or implicit node-gyp
// script (`"gypfile": false`), because npm warns about every such script
// that allowScripts does not cover, and blocks them in newer versions.
// Without a compiler multiproc still works (SharedMemory falls back to
// SharedArrayBuffers between threads), so a failed build only warns, unless
// MULTIPROC_REQUIRE_NATIVE=1 (CI) makes it an error.
import { spawnSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const require_ = process.env.MULTIPROC_REQUIRE_NATIVE === '1'

function fail(message) {
  if (require_) {
    console.error(`multiproc: ${message}`)
    process.exit(1)
  }
  console.warn(`multiproc: ${message}; SharedMemory uses the prebuilt addon if this platform has one, else its fallback (see README, "Shared memory")`)
  process.exit(0)
}

if (process.env.MULTIPROC_NO_NATIVE === '1' && !require_) fail('MULTIPROC_NO_NATIVE=1, native addon not built')
if (process.platform === 'win32') fail('POSIX shared memory is not available on Windows')

// node-gyp ships with npm: next to the npm that runs this script, next to
// node, or next to the npm on PATH (a Node without its own npm).
const gypIn = (npmRoot) => join(npmRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
const npmOnPath = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => join(dir, 'npm'))
  .filter((file) => existsSync(file))
  .map((file) => gypIn(join(dirname(realpathSync(file)), '..')))
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && gypIn(join(dirname(process.env.npm_execpath), '..')),
  gypIn(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')),
  ...npmOnPath,
].filter(Boolean)
const nodeGyp = candidates.find((p) => existsSync(p))
if (nodeGyp === undefined) fail('node-gyp not found (it ships with npm)')

// Headers of the running Node: <prefix>/include/node. Using them as --nodedir
// keeps node-gyp from downloading a headers tarball.
const prefix = join(dirname(process.execPath), '..')
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null
if (nodedir === null) fail(`Node's headers were not found under ${join(prefix, 'include', 'node')}`)

const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, npm_config_nodedir: nodedir },
})
if (result.status !== 0) fail(`building the shared memory addon failed (node-gyp exit ${result.status ?? result.signal})`)

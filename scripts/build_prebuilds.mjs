#!/usr/bin/env node
// Builds the prebuilt shared memory addons that ship in the package
// (prebuilds/<platform>-<arch>/multiproc_shm.<libc>.node) and records them in
// prebuilds/manifest.json with the SHA-256 of native/shm.c they come from.
//
// The binaries are committed: each is a few kilobytes, and committing them
// means packing the package needs no cross compilers. `--check` (run by the
// packaging test) fails when native/shm.c changed since they were built, so
// stale binaries cannot ship.
//
// Toolchains (Debian packages): gcc (linux-x64 glibc),
// gcc-aarch64-linux-gnu (linux-arm64 glibc), musl-tools (linux-x64 musl).
// A target whose compiler is missing is skipped with a note, unless
// --require-all. N-API headers: those of the running Node (one N-API build,
// NAPI_VERSION 8, loads on every Node version since 12.22).
//
// Usage: node scripts/build_prebuilds.mjs [--check] [--require-all]
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const source = join(root, 'native', 'shm.c')
const manifestFile = join(root, 'prebuilds', 'manifest.json')
const sourceHash = createHash('sha256').update(readFileSync(source)).digest('hex')

const targets = [
  { platform: 'linux', arch: 'x64', libc: 'glibc', cc: 'gcc' },
  { platform: 'linux', arch: 'arm64', libc: 'glibc', cc: 'aarch64-linux-gnu-gcc' },
  { platform: 'linux', arch: 'x64', libc: 'musl', cc: 'musl-gcc' },
]
const fileOf = (t) => join('prebuilds', `${t.platform}-${t.arch}`, `multiproc_shm.${t.libc}.node`)

if (process.argv.includes('--check')) {
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'))
  const problems = []
  if (manifest.source !== sourceHash) problems.push(`native/shm.c changed since the prebuilds were built (run node scripts/build_prebuilds.mjs)`)
  for (const entry of manifest.prebuilds) {
    const file = join(root, entry.file)
    if (!existsSync(file)) problems.push(`${entry.file} is missing`)
    else if (createHash('sha256').update(readFileSync(file)).digest('hex') !== entry.sha256) problems.push(`${entry.file} differs from the manifest`)
  }
  if (problems.length > 0) {
    console.error(`prebuilds: ${problems.join('; ')}`)
    process.exit(1)
  }
  console.log(`prebuilds: ${manifest.prebuilds.map((e) => e.target).join(', ')} match native/shm.c`)
  process.exit(0)
}

const prefix = join(dirname(process.execPath), '..')
const include = join(prefix, 'include', 'node')
if (!existsSync(join(include, 'node_api.h'))) {
  console.error(`prebuilds: Node's headers were not found under ${include}`)
  process.exit(1)
}

const built = []
for (const t of targets) {
  const name = `${t.platform}-${t.arch}-${t.libc}`
  if (spawnSync('sh', ['-c', `command -v ${t.cc}`], { stdio: 'ignore' }).status !== 0) {
    if (process.argv.includes('--require-all')) {
      console.error(`prebuilds: ${t.cc} not found for ${name}`)
      process.exit(1)
    }
    console.warn(`prebuilds: skipping ${name}: ${t.cc} not found`)
    continue
  }
  const out = join(root, fileOf(t))
  mkdirSync(dirname(out), { recursive: true })
  // -I: the N-API headers only (they include nothing but the C standard
  // headers, which each toolchain brings). -s strips symbols: smaller file.
  const args = ['-std=c11', '-O2', '-fPIC', '-shared', '-s', '-Wall', '-Wextra', '-Werror', '-Wl,-z,noexecstack',
    `-I${include}`, '-DNODE_GYP_MODULE_NAME=multiproc_shm', '-o', out, source]
  const result = spawnSync(t.cc, args, { stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`prebuilds: ${t.cc} failed for ${name}`)
    process.exit(1)
  }
  const version = spawnSync(t.cc, ['-dumpfullversion'], { encoding: 'utf8' }).stdout.trim()
  built.push({ target: name, file: fileOf(t), sha256: createHash('sha256').update(readFileSync(out)).digest('hex'), compiler: `${t.cc} ${version}` })
  console.log(`prebuilds: ${fileOf(t)} (${readFileSync(out).length} bytes)`)
}

// Keep the entries of targets not rebuilt here (their compiler is missing on
// this machine) when they still match the source.
const previous = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) : { prebuilds: [] }
const kept = previous.source === sourceHash ? previous.prebuilds.filter((e) => !built.some((b) => b.target === e.target)) : []
const manifest = { source: sourceHash, napiVersion: 8, prebuilds: [...built, ...kept].sort((a, b) => a.target.localeCompare(b.target)) }
writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n')

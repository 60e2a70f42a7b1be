// Where the shared memory addon and the worker entry come from. The
// installed package (prebuilt addon, bundles) is covered end to end by
// scripts/packaging_test.mjs; this file covers the lookup rules in a checkout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SharedMemory, UnsupportedBackendError } from '../../src/index.js'
import { prebuiltShmPath } from '../../src/shared_memory/native.js'
import { workerEntry } from '../../src/backends/worker_entry.js'

const root = new URL('../../', import.meta.url)

function addonIn(env: Record<string, string>): { source: string; reason?: string; backend: string } {
  const script = "import { SharedMemory } from './src/index.ts'; console.log(JSON.stringify({ ...SharedMemory.addon, backend: SharedMemory.backend }))"
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
  assert.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as { source: string; reason?: string; backend: string }
}

test('SharedMemory.addon says which implementation is active', () => {
  const addon = SharedMemory.addon
  if (addon.source === 'fallback') {
    assert.equal(SharedMemory.backend, 'sharedarraybuffer')
    assert.ok(addon.reason.length > 0)
  } else {
    assert.equal(SharedMemory.backend, 'posix')
    assert.match(addon.file, addon.source === 'compiled' ? /build[/\\]Release[/\\]multiproc_shm\.node$/ : /prebuilds[/\\]linux-/)
  }
  if (process.env.MULTIPROC_REQUIRE_NATIVE === '1') assert.notEqual(addon.source, 'fallback')
})

test('MULTIPROC_NO_NATIVE=1: the fallback, with the reason', () => {
  const addon = addonIn({ MULTIPROC_NO_NATIVE: '1' })
  assert.equal(addon.source, 'fallback')
  assert.equal(addon.backend, 'sharedarraybuffer')
  assert.match(addon.reason ?? '', /MULTIPROC_NO_NATIVE=1/)
})

test('the prebuilt addon for this platform ships in prebuilds/ (linux-x64 and linux-arm64 glibc, linux-x64 musl)', { skip: process.platform !== 'linux' }, () => {
  const file = prebuiltShmPath(new URL('.', root).pathname)
  assert.match(file, new RegExp(`prebuilds/linux-${process.arch}/multiproc_shm\\.(glibc|musl)\\.node$`))
  const check = spawnSync(process.execPath, ['scripts/build_prebuilds.mjs', '--check'], { cwd: root, encoding: 'utf8' })
  assert.equal(check.status, 0, check.stderr)
})

test('worker entry: the library file when it exists, else multiproc-worker.js next to the bundle, else a typed error naming the fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-entry-'))
  const saved = process.env.MULTIPROC_WORKER_ENTRY
  try {
    delete process.env.MULTIPROC_WORKER_ENTRY
    const own = new URL('../../src/worker/bootstrap.ts', import.meta.url)
    assert.deepEqual(workerEntry(own, import.meta.url), { url: own, bundled: false })

    const missing = pathToFileURL(join(dir, 'worker', 'bootstrap.js'))
    const chunk = pathToFileURL(join(dir, 'chunk-ABC.mjs')).href
    assert.throws(
      () => workerEntry(missing, chunk),
      (error: unknown) => error instanceof UnsupportedBackendError && /multiproc-worker=multiproc\/worker/.test(error.message) && /MULTIPROC_WORKER_ENTRY/.test(error.message),
    )

    const bundled = join(dir, 'multiproc-worker.mjs')
    writeFileSync(bundled, '')
    const other = pathToFileURL(join(dir, 'worker', 'process_bootstrap.js'))
    assert.deepEqual(workerEntry(other, chunk), { url: pathToFileURL(bundled), bundled: true })

    process.env.MULTIPROC_WORKER_ENTRY = join(dir, 'nowhere.js')
    assert.throws(() => workerEntry(own, import.meta.url), (error: unknown) => error instanceof UnsupportedBackendError && /nowhere\.js/.test(error.message))
    process.env.MULTIPROC_WORKER_ENTRY = bundled
    assert.deepEqual(workerEntry(own, import.meta.url), { url: pathToFileURL(bundled), bundled: true })
  } finally {
    if (saved === undefined) delete process.env.MULTIPROC_WORKER_ENTRY
    else process.env.MULTIPROC_WORKER_ENTRY = saved
    rmSync(dir, { recursive: true, force: true })
  }
})

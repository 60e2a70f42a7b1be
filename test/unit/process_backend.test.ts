// The process backend's small parts: the progress file, heap flags, worker Node options.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readlinkSync, writeSync } from 'node:fs'
import { ProgressFile } from '../../src/backends/child_process/progress_file.js'
import { heapFlags } from '../../src/backends/child_process/child_process_backend.js'
import { processExecArgv } from '../../src/backends/exec_argv.js'

describe('ProgressFile', () => {
  it('reads what the worker wrote, survives as an unlinked file, and keeps the last values once closed', () => {
    const file = new ProgressFile()
    assert.equal(file.shmName, null)
    assert.deepEqual(file.read(), { started: 0, item: 0, finished: 0 })
    if (process.platform === 'linux') assert.match(readlinkSync(`/proc/self/fd/${file.fd}`), /\(deleted\)$/, 'nothing left on disk')
    // What a worker does: [started, item] before each task, item before each chunk item, finished before each batch of results.
    writeSync(file.fd, Int32Array.of(7, 3), 0, 8, 0)
    writeSync(file.fd, Int32Array.of(5), 0, 4, 8)
    assert.deepEqual(file.read(), { started: 7, item: 3, finished: 5 })
    assert.deepEqual(file.close(), { started: 7, item: 3, finished: 5 })
    assert.deepEqual(file.read(), { started: 7, item: 3, finished: 5 })
    assert.deepEqual(file.close(), { started: 7, item: 3, finished: 5 }, 'closing twice is fine')
  })

  it('a mappable file keeps its /dev/shm name for the worker until close() at the latest', () => {
    const file = new ProgressFile(true)
    if (file.shmName === null) return // no /dev/shm here: the worker writes through the descriptor
    assert.ok(existsSync(`/dev/shm${file.shmName}`))
    file.close()
    assert.ok(!existsSync(`/dev/shm${file.shmName}`), 'nothing left behind')
  })
})

describe('heapFlags', () => {
  it("turns a thread's resourceLimits into V8 flags", () => {
    assert.deepEqual(heapFlags(undefined), [])
    assert.deepEqual(heapFlags({ maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 12, stackSizeMb: 4 }), ['--max-old-space-size=64', '--max-semi-space-size=4'])
    assert.deepEqual(heapFlags({ maxYoungGenerationSizeMb: 1 }), ['--max-semi-space-size=1'])
  })
})

describe('processExecArgv', () => {
  it('keeps loaders and language flags, drops per-process options', () => {
    const argv = processExecArgv(['--import', 'tsx', '--inspect=9229', '--enable-source-maps', '--test-reporter', 'spec'])
    assert.deepEqual(argv, ['--import', 'tsx', '--enable-source-maps'])
  })

  it('adds the TypeScript loader when the caller runs under tsx without saying so (a worker thread)', () => {
    // The test suite runs under tsx, so a loader is active in this process.
    const argv = processExecArgv(['--enable-source-maps'])
    assert.equal(argv[0], '--enable-source-maps')
    assert.equal(argv[1], '--import')
    assert.match(argv[2]!, /^file:.*tsx[\\/]dist[\\/]loader\.mjs$/)
  })
})

// Process workers killed from outside with SIGKILL: only the task that was
// running fails (or runs again under retries), the worker is replaced, the
// others complete, nothing hangs. (Python's Pool hangs here, cpython#96062;
// its ProcessPoolExecutor breaks as a whole.)
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool, ProcessPoolExecutor, WorkerCrashedError } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { rejection } from '../helpers.js'
import { alive, until } from './helpers.js'

function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-kill-'))
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Waits until the task announced itself in `file`, and returns its worker's pid. */
async function announced(file: string): Promise<number> {
  await until(() => existsSync(file) && readFileSync(file, 'utf8') !== '', 'the task to start')
  return Number(readFileSync(file, 'utf8'))
}

describe('kill -9 [process]', () => {
  it('fails only the task that was running, with exit code -9, and replaces the worker', async () => {
    using tmp = tempDir()
    await using ex = new ProcessPoolExecutor({ maxWorkers: 2 })
    const before = Array.from({ length: 50 }, (_, i) => ex.submit(T.square, i))
    const victim = ex.submit(T.announceThenSpin, join(tmp.dir, 'victim'), 60_000)
    const after = Array.from({ length: 50 }, (_, i) => ex.submit(T.slowSquare, i, 1))
    const pid = await announced(join(tmp.dir, 'victim'))
    process.kill(pid, 'SIGKILL')
    const error = await rejection(victim)
    assert.ok(error instanceof WorkerCrashedError, String(error))
    assert.equal(error.exitCode, -9)
    assert.equal(error.signal, 'SIGKILL')
    assert.equal(error.workerId, `process worker ${pid}`)
    assert.match(error.message, /was killed by SIGKILL while running task announceThenSpin/)
    assert.deepEqual(await Promise.all(before), before.map((_, i) => i * i))
    assert.deepEqual(await Promise.all(after), after.map((_, i) => i * i))
    assert.equal(alive(pid), false)
    const pids = new Set(await Promise.all(Array.from({ length: 20 }, () => ex.submit(T.slowSquare, 1, 5).then(() => ex.submit(T.pid)))))
    assert.ok(!pids.has(pid), 'the dead worker is gone; its replacement runs the tasks')
  })

  it('runs the killed task again under retries', async () => {
    using tmp = tempDir()
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, retries: 1 })
    const file = join(tmp.dir, 'victim')
    const victim = ex.submit(T.announceThenSpin, file, 300)
    const first = await announced(file)
    rmSync(file)
    process.kill(first, 'SIGKILL')
    const second = await victim
    assert.notEqual(second, first, 'ran again in the replacement worker')
  })

  it('a Pool goes on after a worker is killed', async () => {
    using tmp = tempDir()
    await using pool = new Pool({ processes: 2, context: 'process' })
    const squares = pool.mapAsync(T.slowSquare, Array.from({ length: 40 }, (_, i) => i), { chunksize: 2 })
    const victim = pool.applyAsync(T.announceThenSpin, [join(tmp.dir, 'victim'), 60_000])
    process.kill(await announced(join(tmp.dir, 'victim')), 'SIGKILL')
    const error = await rejection(victim.get())
    assert.ok(error instanceof WorkerCrashedError, String(error))
    assert.equal(victim.successful(), false)
    assert.deepEqual(await squares, Array.from({ length: 40 }, (_, i) => i * i))
    assert.equal(await pool.apply(T.square, [12]), 144)
  })

  it('terminate escalates to SIGKILL when a worker ignores SIGTERM, and always returns', async () => {
    const ex = new ProcessPoolExecutor({ maxWorkers: 1 })
    const first = await ex.submit(T.pid)
    const timedOut = ex.submitWith({ timeout: 300 }, T.ignoreSigtermAndSpin, 60_000)
    assert.match(String(await rejection(timedOut)), /timed out after 300 ms while running/)
    const second = await ex.submit(T.pid)
    assert.notEqual(second, first)
    assert.equal(alive(first), false, 'the worker that ignored SIGTERM was killed')
    ex.submit(T.ignoreSigtermAndSpin, 60_000)
    await new Promise((r) => setTimeout(r, 200))
    await ex.terminateWorkers()
    assert.equal(alive(second), false)
  })
})

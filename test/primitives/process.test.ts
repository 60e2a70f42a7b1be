// Process: start/join, exit codes (0, 1, -N), names, currentProcess,
// activeChildren, await using; on worker threads and child processes.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidStateError, Process, Queue, activeChildren, currentProcess, parentProcess, getContext } from '../../src/index.js'
import { exitsWith, fails, sleeps, whoAmI } from '../fixtures/primitives.js'
import { contexts } from './contexts.js'

describe('Process in the main program', () => {
  it('currentProcess() is MainProcess, with no parent', () => {
    assert.equal(currentProcess().name, 'MainProcess')
    assert.equal(currentProcess().pid, process.pid)
    assert.equal(parentProcess(), null)
  })

  it('refuses a target that cannot be sent, and unknown options', () => {
    assert.throws(() => new Process({ target: (() => 1) as never }), TypeError)
    assert.throws(() => new Process({ target: sleeps, colour: 'red' } as never), RangeError)
    assert.throws(() => new Process({ target: sleeps, args: 3 as never }), TypeError)
  })

  it('join before start and start twice are InvalidStateErrors', async () => {
    const p = new Process({ target: sleeps, args: [1] })
    await assert.rejects(p.join(), InvalidStateError)
    p.start()
    assert.throws(() => p.start(), InvalidStateError)
    await p.join()
  })

  it('the default context is threads', async () => {
    const p = new Process({ target: sleeps, args: [1] })
    p.start()
    assert.equal(p.pid, process.pid)
    await p.join()
    assert.equal(p.exitCode, 0)
  })
})

for (const ctx of contexts()) {
  describe(`Process [${ctx.name}]`, () => {
    it('runs the target, names itself, knows its parent', async () => {
      const out = new Queue<[string, string | null]>()
      const p = new ctx.Process({ target: whoAmI, args: [out], name: 'worker-a' })
      assert.equal(p.exitCode, null)
      assert.equal(p.isAlive(), false)
      p.start()
      assert.equal(p.isAlive(), true)
      await p.join()
      assert.equal(p.isAlive(), false)
      assert.equal(p.exitCode, 0)
      assert.deepEqual(await out.get(), ['worker-a', 'MainProcess'])
      if (ctx.name === 'process') assert.notEqual(p.pid, process.pid)
    })

    it('default names are Process-N', () => {
      const p = new ctx.Process({ target: sleeps, args: [1] })
      assert.match(p.name, /^Process-\d+$/)
    })

    it('exit code 1 for an uncaught error, and process.exit(n) gives n', async () => {
      const p = new ctx.Process({ target: fails })
      const q = new ctx.Process({ target: exitsWith, args: [3] })
      p.start()
      q.start()
      await p.join()
      await q.join()
      assert.equal(p.exitCode, 1)
      assert.equal((p.error as Error).message, 'target failed')
      assert.equal(q.exitCode, 3)
    })

    it('terminate() gives -15 and kill() -9; join with a timeout returns while it runs', async () => {
      const p = new ctx.Process({ target: sleeps, args: [60_000] })
      p.start()
      await p.join({ timeout: 20 })
      assert.equal(p.isAlive(), true)
      assert.equal(p.exitCode, null)
      assert.ok(activeChildren().includes(p))
      assert.throws(() => p.close(), InvalidStateError)
      p.terminate()
      await p.join()
      assert.equal(p.exitCode, -15)
      p.close()
      assert.ok(!activeChildren().includes(p))
      const k = new ctx.Process({ target: sleeps, args: [60_000] })
      k.start()
      k.kill()
      await k.join()
      assert.equal(k.exitCode, -9)
    })

    it('await using joins it at the end of the scope', async () => {
      let p: Process
      {
        await using proc = new ctx.Process({ target: sleeps, args: [10] })
        p = proc
        proc.start()
      }
      assert.equal(p.exitCode, 0)
    })

    it('a daemon does not keep the program alive, and can still be joined', async () => {
      const p = new ctx.Process({ target: sleeps, args: [10], daemon: true })
      assert.equal(p.daemon, true)
      p.start()
      assert.throws(() => (p.daemon = false), InvalidStateError)
      await p.join()
      assert.equal(p.exitCode, 0)
    })
  })
}

describe('getContext', () => {
  it('binds Process to its backend', () => {
    assert.equal(new (getContext('process').Process)({ target: sleeps, args: [1] }) instanceof Process, true)
  })
})

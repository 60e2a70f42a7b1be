// Process workers never outlive their program, whichever way it ends, and
// their output reaches the program's own stdout and stderr.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { alive, startProgram, until } from './helpers.js'
import { runScript } from '../helpers.js'

async function workerPids(program: ReturnType<typeof startProgram>): Promise<number[]> {
  await until(() => (program.stdout().match(/^worker \d+/gm) ?? []).length === 2, 'both workers to start', 30_000)
  return [...program.stdout().matchAll(/^worker (\d+)/gm)].map((m) => Number(m[1]))
}

describe('worker lifetime [process]', () => {
  for (const kind of ['executor', 'pool']) {
    it(`workers die with a program killed by SIGKILL, even mid-task (${kind})`, async () => {
      const program = startProgram('test/fixtures/programs/busy_workers.ts', [kind])
      const pids = await workerPids(program)
      assert.ok(pids.every(alive))
      program.child.kill('SIGKILL')
      await program.exited
      await until(() => !pids.some(alive), `workers ${pids.join(', ')} to exit`)
    })
  }

  it('Ctrl-C (SIGINT) in the program leaves no worker behind', async () => {
    const program = startProgram('test/fixtures/programs/busy_workers.ts', ['pool'])
    const pids = await workerPids(program)
    program.child.kill('SIGINT')
    const { signal, code } = await program.exited
    assert.ok(signal === 'SIGINT' || code === 130, `the program died of SIGINT (${signal ?? code})`)
    await until(() => !pids.some(alive), `workers ${pids.join(', ')} to exit`)
  })

  it("workers' stdout and stderr reach the program's", async () => {
    const result = await runScript('test/fixtures/programs/speak.ts', ['process'], { timeoutMs: 30_000 })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /out: hello from a worker\n(.|\n)*done/)
    assert.match(result.stderr, /err: hello from a worker/)
  })
})

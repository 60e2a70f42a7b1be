// Runs the Process examples as programs and checks what they print. One
// test file per context (examples_thread / examples_process), so that each
// file stays well inside the runner's time limit on a loaded machine.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runScript } from '../helpers.js'

export function exampleTests(context: 'thread' | 'process'): void {
  const only = process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim())
  if (only && !only.includes(context)) return
  describe(`examples [${context}]`, () => {
    it('process_start_join.ts starts four Processes and joins them', async () => {
      const r = await runScript('examples/process_start_join.ts', ['--context', context], { timeoutMs: 120_000 })
      assert.equal(r.code, 0, r.stderr)
      for (let id = 0; id < 4; id++) {
        assert.match(r.stdout, new RegExp(`worker ${id} \\(Worker-${id}\\) started`))
        assert.match(r.stdout, new RegExp(`worker ${id} done`))
      }
      assert.match(r.stdout, new RegExp(`all joined on ${context}: exit codes 0, 0, 0, 0`))
    })

    it('pi_queues.ts computes pi with task and result queues and sentinels', async () => {
      const r = await runScript('examples/pi_queues.ts', ['--context', context, '--steps', '1000000'], { timeoutMs: 120_000 })
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /pi ≈ 3\.14159265\d+/)
    })

    it('primes_two_phases.ts finds the 1229 primes below 10000 in two phases', async () => {
      const r = await runScript('examples/primes_two_phases.ts', ['--context', context, '--limit', '10000'], { timeoutMs: 120_000 })
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /phase 1: 669 primes in \[0, 5000\)/)
      assert.match(r.stdout, /phase 2: 560 primes in \[5000, 10000\)/)
      assert.match(r.stdout, /1229 primes below 10000; the largest is 9973/)
    })

    it('lock_counter.ts counts exactly under a lock', async () => {
      const r = await runScript('examples/lock_counter.ts', ['--context', context], { timeoutMs: 120_000 })
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /with a lock: 40000 \(expected 40000\)/)
    })
  })
}

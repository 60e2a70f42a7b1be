// retryOn: tasks that threw an error the caller names run again, within `retries`, after a backoff;
// on every backend, for submit, map chunks and Pool.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CancelledError, Pool, RemoteError, TimeoutError, registerError, type StartMethod } from '../../src/index.js'
import * as R from '../fixtures/retry_tasks.js'
import { backends } from './backends.js'

function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-retry-'))
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) }
}

const fast = { initial: 1, factor: 1, max: 1, jitter: false }

for (const backend of backends()) {
  describe(`retryOn [${backend.name}]`, () => {
    it('runs a task that threw a named class again until it succeeds, and counts the runs in stats()', async () => {
      using tmp = tempDir()
      await using ex = backend.create({ retries: 3, retryOn: [R.TransientError], retryBackoff: fast })
      const log = join(tmp.dir, 'a')
      assert.equal(await ex.submit(R.flaky, log, 3), 3)
      assert.equal(R.runTimes(log).length, 3)
      assert.equal(ex.stats().retried, 2)
      assert.equal(ex.stats().failed, 0)
    })

    it('fails at once on an error retryOn does not name, and without retryOn', async () => {
      using tmp = tempDir()
      await using ex = backend.create({ retries: 3, retryOn: [R.TransientError], retryBackoff: fast })
      await assert.rejects(ex.submit(R.flaky, join(tmp.dir, 'p'), 3, 'permanent'), (e: Error) => e.name === 'PermanentError' && /run 1 failed/.test(e.message))
      assert.equal(R.runTimes(join(tmp.dir, 'p')).length, 1)
      await using plain = backend.create({ retries: 3 })
      await assert.rejects(plain.submit(R.flaky, join(tmp.dir, 'q'), 2), (e: Error) => e.name === 'TransientError')
      assert.equal(R.runTimes(join(tmp.dir, 'q')).length, 1, 'retries alone covers crashes, not errors')
    })

    it('gives up after `retries` runs again with the last error', async () => {
      using tmp = tempDir()
      await using ex = backend.create()
      const log = join(tmp.dir, 'b')
      const f = ex.submitWith({ retries: 2, retryOn: [R.TransientError], retryBackoff: fast }, R.flaky, log, 10)
      await assert.rejects(f, (e: Error) => e.name === 'TransientError' && /run 3 failed/.test(e.message))
      assert.throws(() => ex.submitWith({ retryOn: [R.TransientError] }, R.flaky, log, 1), /within `retries`, which is 0/)
      assert.equal(R.runTimes(log).length, 3)
      assert.equal(ex.stats().retried, 2)
      assert.equal(ex.stats().failed, 1)
    })

    it('matches names, codes, built-in classes and a predicate with the run number', async () => {
      using tmp = tempDir()
      await using ex = backend.create({ retries: 1 })
      const opts = (retryOn: NonNullable<Parameters<typeof ex.submitWith>[0]>['retryOn']) => ({ retryOn, retryBackoff: fast })
      assert.equal(await ex.submitWith(opts(['TransientError']), R.flaky, join(tmp.dir, 'n'), 2), 2)
      assert.equal(await ex.submitWith(opts(['ECONNRESET']), R.flaky, join(tmp.dir, 'c'), 2, 'ECONNRESET'), 2)
      assert.equal(await ex.submitWith(opts([TypeError]), R.flaky, join(tmp.dir, 't'), 2, 'type'), 2)
      const attempts: number[] = []
      const predicate = (error: unknown, attempt: number): boolean => {
        attempts.push(attempt)
        return (error as Error).message.includes('failed')
      }
      assert.equal(await ex.submitWith({ retries: 3, retryOn: predicate, retryBackoff: fast }, R.flaky, join(tmp.dir, 'f'), 3), 3)
      assert.deepEqual(attempts, [1, 2])
    })

    it('matches an unregistered class by name and a registered subclass with instanceof', async () => {
      using tmp = tempDir()
      await using ex = backend.create({ retries: 1, retryBackoff: fast, retryOn: [R.UnregisteredError, R.TransientError] })
      await assert.rejects(ex.submitWith({ retries: 0 }, R.flaky, join(tmp.dir, 'u'), 2, 'unregistered'), (e: Error) => e instanceof RemoteError && e.name === 'UnregisteredError')
      assert.equal(await ex.submit(R.flaky, join(tmp.dir, 'v'), 2, 'unregistered'), 2, 'by class name')
      registerError(R.SpecificTransientError)
      await assert.rejects(ex.submitWith({ retries: 0 }, R.flaky, join(tmp.dir, 'w'), 2, 'specific'), R.TransientError)
      assert.equal(await ex.submit(R.flaky, join(tmp.dir, 'x'), 2, 'specific'), 2, 'a registered subclass, with instanceof')
    })

    it('waits the backoff between runs', async () => {
      using tmp = tempDir()
      await using ex = backend.create()
      const log = join(tmp.dir, 'd')
      const backoff = { initial: 80, factor: 2, max: 1000, jitter: false }
      assert.equal(await ex.submitWith({ retries: 2, retryOn: [R.TransientError], retryBackoff: backoff }, R.flaky, log, 3), 3)
      const [t1, t2, t3] = R.runTimes(log) as [number, number, number]
      assert.ok(t2 - t1 >= 80 - 2, `first wait ${t2 - t1} ms, at least 80`)
      assert.ok(t3 - t2 >= 160 - 2, `second wait ${t3 - t2} ms, at least 160`)
    })

    it('settles a task cancelled or timed out while it waits to run again, and runs it no more', async () => {
      using tmp = tempDir()
      await using ex = backend.create({ retries: 5, retryOn: [R.TransientError], retryBackoff: { initial: 400, jitter: false } })
      const log = join(tmp.dir, 'x')
      const f = ex.submit(R.flaky, log, 10)
      for (let i = 0; i < 400 && R.runTimes(log).length === 0; i++) await new Promise((r) => setTimeout(r, 10))
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(f.cancel(), true, 'a task waiting to run again is pending, so cancel() works as on a queued one')
      await assert.rejects(f, CancelledError)
      const timed = join(tmp.dir, 'y')
      await assert.rejects(ex.submitWith({ timeout: 250 }, R.flaky, timed, 10), (e: Error) => e instanceof TimeoutError && /before run 2 \(retryOn\)/.test(e.message))
      await new Promise((r) => setTimeout(r, 450))
      assert.equal(R.runTimes(log).length, 1)
      assert.equal(R.runTimes(timed).length, 1)
      assert.equal(ex.stats().pending, 0)
    })

    it('runs again only the items of a map chunk that threw, keeping order', async () => {
      using tmp = tempDir()
      await using ex = backend.create({ retries: 1, retryOn: [R.TransientError], retryBackoff: fast })
      const items = Array.from({ length: 20 }, (_, i) => i)
      const out: number[] = []
      for await (const y of ex.map(R.flakyItem, items.map(() => tmp.dir), items, { chunksize: 5 })) out.push(y)
      assert.deepEqual(out, items.map((x) => x * 10))
      for (const x of items) assert.equal(R.runTimes(join(tmp.dir, `item-${x}`)).length, x % 2 === 1 ? 2 : 1, `item ${x}`)
      assert.equal(ex.stats().retried, 10)
    })

    it('refuses bad retryOn and retryBackoff values with clear errors', () => {
      assert.throws(() => backend.create({ retryOn: 'TransientError' as never }), /Expected `retryOn` to be an array of error classes or names, or a function/)
      assert.throws(() => backend.create({ retryOn: [Object as never] }), /Expected `retryOn\[0\]` to be an Error class/)
      assert.throws(() => backend.create({ retryOn: [R.TransientError], retryBackoff: { initial: 10, delay: 5 } as never }), /delay/)
      assert.throws(() => backend.create({ retryOn: [R.TransientError], retryBackoff: { factor: 0.5 } }), RangeError)
      assert.throws(() => backend.create({ retryBackoff: { initial: 10 } }), /give `retryOn` too/)
      assert.throws(() => backend.create({ retryOn: [R.TransientError] }), (e: Error) => e instanceof RangeError && /within `retries`, which is 0; give `retries` too/.test(e.message))
    })
  })
}

for (const context of ['thread', 'process', 'inline'] as StartMethod[]) {
  describe(`retryOn in Pool [${context}]`, () => {
    it('Pool passes retryOn to its workers: apply and map run failed calls again', async () => {
      using tmp = tempDir()
      await using pool = new Pool({ processes: 2, context, retries: 1, retryOn: ['TransientError'], retryBackoff: fast })
      assert.equal(await pool.apply(R.flaky, [join(tmp.dir, 'p'), 2]), 2)
      const items = [1, 2, 3, 4, 5, 6]
      assert.deepEqual(await pool.starmap(R.flakyItem, items.map((x) => [tmp.dir, x] as [string, number]), { chunksize: 2 }), items.map((x) => x * 10))
    })
  })
}

// concurrentTasksPerWorker: several asynchronous tasks (and items of a map
// chunk) in flight on one worker. Overlap is proven by tasks that wait for
// each other (they can only return if they run at once), never by timing.
// Local backends only: the cluster refuses the option (its workers are
// configured where they run; test/unit/nats_worker_options.test.ts).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CancelledError, Pool, TimeoutError, WorkerCrashedError, type Future, type StartMethod } from '../../src/index.js'
import * as C from '../fixtures/concurrent_tasks.js'
import * as T from '../fixtures/tasks.js'
import { resolveTask } from '../../src/task_ref.js'
import { backends } from './backends.js'
import { collect, rejection } from '../helpers.js'

/** Fails instead of hanging when `promise` takes longer than `ms` (tasks that should overlap but do not wait for ever). */
async function bounded<T>(promise: PromiseLike<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms (the tasks did not run at once?)`)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits until every file exists (tasks wrote them when they started). */
async function started(files: string[]): Promise<void> {
  await bounded(
    (async () => {
      while (!files.every((f) => existsSync(f))) await new Promise((resolve) => setTimeout(resolve, 5))
    })(),
    `waiting for ${files.length} tasks to start`,
  )
}

/** Counts how many times each Future's done callbacks run (a Future settles once). */
function settlements(futures: Future<unknown>[]): number[] {
  const counts = futures.map(() => 0)
  futures.forEach((f, i) => f.addDoneCallback(() => counts[i]!++))
  return counts
}

let keys = 0
/** A rendezvous key of its own per test (inline workers share the test's thread, and its module state). */
const key = (what: string): string => `${what}-${process.pid}-${keys++}`

for (const backend of backends().filter((b) => b.name !== 'nats')) {
  describe(`concurrentTasksPerWorker [${backend.name}]`, () => {
    it('runs N asynchronous tasks at once on one worker', async () => {
      await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
      assert.equal(ex.concurrentTasksPerWorker, 4)
      const k = key('submit')
      const results = await bounded(Promise.all([1, 2, 3, 4].map((i) => ex.submit(C.rendezvous, k, 4, i))), 'four tasks that wait for each other')
      assert.deepEqual(
        results.map((r) => r.value),
        [1, 2, 3, 4],
      )
      assert.equal(new Set(results.map((r) => r.where)).size, 1, 'one worker ran them all')
    })

    it('defaults to one task at a time', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      assert.equal(ex.concurrentTasksPerWorker, 1)
      assert.equal(await ex.submit(T.square, 3), 9)
    })

    it('map yields in input order while later items finish first', async () => {
      await using ex = backend.create({ maxWorkers: 2, concurrentTasksPerWorker: 8 })
      const xs = Array.from({ length: 24 }, (_, i) => i)
      const delays = xs.map((i) => 2 * (24 - i))
      assert.deepEqual(await collect(ex.map(C.echoAfter, xs, delays)), xs)
      assert.deepEqual(await collect(ex.map(C.echoAfter, xs, delays, { chunksize: 6 })), xs)
      const unordered = (await collect(ex.mapArgs(resolveTask(C.echoAfter), xs.map((x, i) => [x, delays[i]])[Symbol.iterator](), {}, false))) as number[]
      assert.deepEqual(unordered.sort((a, b) => a - b), xs)
    })

    it('runs the items of one map chunk at once, and their progress names the right item', async () => {
      await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
      const k = [key('chunk-a'), key('chunk-b')]
      // Two chunks of four items; each item returns only once all four of its chunk started.
      const items = Array.from({ length: 8 }, (_, i): [string, number, number] => [k[i >> 2]!, 4, i])
      const heard = new Map<number, unknown[]>()
      const out = await bounded(
        collect(ex.map(C.rendezvousItem, items, { chunksize: 4, onProgress: (value, index) => heard.set(index, [...(heard.get(index) ?? []), value]) })),
        'items of a chunk that wait for each other',
      )
      assert.deepEqual(out, [0, 10, 20, 30, 40, 50, 60, 70])
      assert.deepEqual([...heard.keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7])
      for (const [index, values] of heard) {
        // Every value of an item is its own; its last one always arrives.
        for (const v of values) assert.equal((v as { value: number }).value, index, `item ${index} heard ${JSON.stringify(values)}`)
        assert.deepEqual(values[values.length - 1], { value: index, at: 'end' })
      }
    })

    it('gives each of the tasks running at once its own progress values', async () => {
      await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
      const k = key('progress')
      const heard: unknown[][] = [[], [], [], []]
      const futures = [0, 1, 2, 3].map((i) => ex.submitWith({ onProgress: (v) => heard[i]!.push(v) }, C.rendezvousItem, [k, 4, i]))
      assert.deepEqual(await bounded(Promise.all(futures), 'four listened tasks'), [0, 10, 20, 30])
      heard.forEach((values, i) => {
        assert.ok(values.length > 0, `task ${i} heard nothing`)
        for (const v of values) assert.equal((v as { value: number }).value, i)
        assert.deepEqual(values[values.length - 1], { value: i, at: 'end' })
      })
    })

    it('Pool.map and imap run the items of a chunk at once', async () => {
      await using pool = new Pool({ processes: 1, context: backend.name as StartMethod, concurrentTasksPerWorker: 4 })
      const k = [key('pool-a'), key('pool-b')]
      const items = Array.from({ length: 8 }, (_, i): [string, number, number] => [k[i >> 2]!, 4, i])
      // Python's chunksize for 8 items on 1 process: 2, so a rendezvous of 4 spans two chunks on the one worker.
      assert.deepEqual(await bounded(pool.map(C.rendezvousItem, items), 'Pool.map'), [0, 10, 20, 30, 40, 50, 60, 70])
      const again = Array.from({ length: 8 }, (_, i): [string, number, number] => [k[i >> 2]! + '-imap', 4, i])
      assert.deepEqual(await bounded(collect(pool.imap(C.rendezvousItem, again, { chunksize: 4 })), 'Pool.imap'), [0, 10, 20, 30, 40, 50, 60, 70])
    })

    it('stats(): every task in flight counts as running, and a busy share stays within [0, 1]', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-lanes-'))
      try {
        await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
        const gate = join(dir, 'gate')
        const markers = [0, 1, 2, 3].map((i) => join(dir, `m${i}`))
        const futures = markers.map((m) => ex.submit(C.waitForGate, m, gate))
        await started(markers)
        const during = ex.stats()
        assert.equal(during.running, 4, JSON.stringify(during))
        assert.equal(during.workers, 1)
        writeFileSync(gate, 'open')
        await bounded(Promise.all(futures), 'gated tasks')
        const after = ex.stats()
        assert.equal(after.succeeded, 4)
        assert.equal(after.running, 0)
        for (const w of after.perWorker) assert.ok(w.busy >= 0 && w.busy <= 1, `busy ${w.busy}`)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    if (backend.isolated) {
      it('maxTasksPerChild counts tasks, not messages', async () => {
        await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4, maxTasksPerChild: 2 })
        const where = await Promise.all(Array.from({ length: 6 }, () => ex.submit(T.whoAmI)))
        const perWorker = new Map<string, number>()
        for (const w of where) perWorker.set(w, (perWorker.get(w) ?? 0) + 1)
        assert.equal(perWorker.size, 3, JSON.stringify([...perWorker]))
        for (const n of perWorker.values()) assert.equal(n, 2)
      })

      it('a crash fails every task that had started on the worker; the rest run elsewhere', async () => {
        await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
        // They start in the order sent: the three sleepers are running when the fourth kills the worker.
        const sleepers = [0, 1, 2].map(() => ex.submit(T.sleep, 10_000))
        const crash = ex.submit(T.exitWorker, 3)
        const after = [ex.submit(T.square, 5), ex.submit(T.square, 6)]
        const counts = settlements([...sleepers, crash])
        for (const f of [...sleepers, crash]) {
          const error = await bounded(rejection(f), 'a task on a crashed worker')
          assert.ok(error instanceof WorkerCrashedError, String(error))
          assert.match(error.message, /exited with code 3 .* it ran up to 4 tasks at once \(concurrentTasksPerWorker\), and every task and chunk item it had started fails/)
        }
        assert.deepEqual(await Promise.all(after), [25, 36])
        assert.deepEqual(counts, [1, 1, 1, 1])
        assert.equal(ex.stats().crashed, 4)
      })

      it('under retries, every task on a crashed worker runs again', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'multiproc-lanes-'))
        try {
          await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4, retries: 1 })
          const sleepers = [0, 1, 2].map((i) => ex.submit(C.countedSleep, join(dir, `s${i}`), 100))
          const crash = ex.submit(C.crashOnceNow, join(dir, 'crashed'))
          assert.deepEqual(await bounded(Promise.all(sleepers), 'retried tasks'), [2, 2, 2])
          assert.equal(await crash, 'again')
          assert.equal(ex.stats().retried, 4)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })

      it('a chunk on a crashed worker fails the items that had started; the others run again', async () => {
        await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
        // One chunk: three slow items start, then the fourth kills the worker; items 4-7 had not started.
        const f = ex.submitChunk(resolveTask(C.crashAt), [[0], [1], [2], [3, true], [4], [5], [6], [7]])
        const result = await bounded(f, 'a chunk on a crashed worker')
        assert.deepEqual([...result.errors!.keys()].sort(), [0, 1, 2, 3])
        for (const error of result.errors!.values()) assert.ok(error instanceof WorkerCrashedError, String(error))
        assert.deepEqual(result.values.slice(4), [4, 5, 6, 7])
      })
    }

    it(
      backend.preemptive
        ? 'a task that times out stops its worker; the others it ran run again elsewhere, their retries untouched'
        : 'a task that times out settles at once; the others go on beside it',
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'multiproc-lanes-'))
        try {
          await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
          const first = await ex.submit(T.whoAmI)
          const gate = join(dir, 'gate')
          const markers = [0, 1, 2].map((i) => join(dir, `m${i}`))
          const others = markers.map((m) => ex.submit(C.waitForGate, m, gate))
          await started(markers)
          // Sent once the others run, to the same worker: it times out among them.
          const slow = ex.submitWith({ timeout: 100 }, C.hang)
          const counts = settlements([...others, slow])
          const error = await bounded(rejection(slow), 'the timed-out task')
          assert.ok(error instanceof TimeoutError, String(error))
          if (backend.preemptive) assert.match(error.message, /other tasks it ran at once run again on another worker/)
          else assert.match(error.message, /runs on .* until it ends/)
          writeFileSync(gate, 'open')
          const where = await bounded(Promise.all(others), 'the tasks beside it')
          for (const w of where) {
            if (backend.preemptive) assert.notEqual(w, first, 'ran again on a new worker')
            else assert.equal(w, first)
          }
          const s = ex.stats()
          assert.equal(s.retried, 0)
          assert.equal(s.crashed, 0)
          assert.equal(s.succeeded, 4)
          assert.equal(s.failed, 1)
          assert.deepEqual(counts, [1, 1, 1, 1])
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      },
    )

    it('an aborted signal stops its task; the others it ran at once still succeed, once', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-lanes-'))
      try {
        await using ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4, retries: 0 })
        const gate = join(dir, 'gate')
        const markers = [0, 1].map((i) => join(dir, `m${i}`))
        const controller = new AbortController()
        const stopped = ex.submitWith({ signal: controller.signal }, C.hang)
        const others = markers.map((m) => ex.submit(C.waitForGate, m, gate))
        const counts = settlements([stopped, ...others])
        await started(markers)
        controller.abort()
        assert.ok((await rejection(stopped)) instanceof CancelledError)
        writeFileSync(gate, 'open')
        const where = await bounded(Promise.all(others), 'the tasks beside the stopped one')
        assert.equal(where.length, 2)
        assert.deepEqual(counts, [1, 1, 1])
        assert.equal(ex.stats().retried, 0)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('terminateWorkers() cancels every task in flight', async () => {
      const ex = backend.create({ maxWorkers: 1, concurrentTasksPerWorker: 4 })
      const k = key('terminate')
      const futures = [0, 1, 2].map((i) => ex.submit(C.rendezvous, k, 4, i))
      await new Promise((resolve) => setTimeout(resolve, 20))
      await bounded(ex.terminateWorkers(), 'terminateWorkers')
      for (const f of futures) assert.ok((await rejection(f)) instanceof CancelledError)
    })

    it('refuses a bad concurrentTasksPerWorker with a clear error', () => {
      for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
        assert.throws(() => backend.create({ concurrentTasksPerWorker: bad }), (e: Error) => e instanceof RangeError && /Expected `concurrentTasksPerWorker` to be a positive integer/.test(e.message))
      }
      for (const bad of ['4', null, {}]) {
        assert.throws(() => backend.create({ concurrentTasksPerWorker: bad as never }), (e: Error) => e instanceof TypeError && /concurrentTasksPerWorker/.test(e.message))
      }
      assert.throws(() => new Pool({ context: backend.name as StartMethod, concurrentTasksPerWorker: 0 }), RangeError)
      assert.throws(() => backend.create({ concurrentTasks: 4 } as never), /Unknown option `concurrentTasks`/)
    })
  })
}

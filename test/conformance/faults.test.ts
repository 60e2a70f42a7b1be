// Crashing workers: only the crashed task fails (or is retried), the worker is
// replaced, every other task completes, nothing hangs.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool, TaskImportError, WorkerCrashedError, task } from '../../src/index.js'
import { resolveTask } from '../../src/task_ref.js'
import * as T from '../fixtures/tasks.js'
import * as C from '../fixtures/chunk_tasks.js'
import type { CrashItem } from '../fixtures/chunk_tasks.js'
import { backends } from './backends.js'
import { collect, fixtures, rejection } from '../helpers.js'

for (const backend of backends().filter((b) => b.isolated)) {
  describe(`faults [${backend.name}]`, () => {
    it('process.exit() in a task fails that task only; the others complete', async () => {
      await using ex = backend.create({ maxWorkers: 2 })
      const before = Array.from({ length: 20 }, (_, i) => ex.submit(T.slowSquare, i, 5))
      const crash = ex.submit(T.exitWorker, 3)
      const after = Array.from({ length: 20 }, (_, i) => ex.submit(T.square, i))
      const error = await rejection(crash)
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.equal(error.exitCode, 3)
      assert.equal(error.code, 'ERR_MP_WORKER_CRASHED')
      assert.match(error.message, /exited with code 3 while running task exitWorker/)
      assert.match(String(error.task), /exitWorker/)
      assert.deepEqual(await Promise.all(before), before.map((_, i) => i * i))
      assert.deepEqual(await Promise.all(after), after.map((_, i) => i * i))
    })

    it('an uncaught error in a timer fails the running task with it as the cause', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const error = await rejection(ex.submit(T.throwInTimer, 'late failure'))
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.match(error.message, /late failure/)
      assert.equal((error.cause as Error).message, 'late failure')
      assert.equal(await ex.submit(T.square, 6), 36)
    })

    it('a crash amid a burst of tiny tasks loses none of them', async () => {
      await using ex = backend.create({ maxWorkers: 2 })
      const futures = []
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 500; i++) futures.push(ex.submit(T.square, i))
        futures.push(ex.submit(T.exitWorker, 1))
      }
      const results = await Promise.allSettled(futures)
      const crashed = results.filter((r) => r.status === 'rejected')
      assert.equal(crashed.length, 5)
      for (const r of crashed) assert.ok((r as PromiseRejectedResult).reason instanceof WorkerCrashedError)
      const values = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)
      assert.equal(values.length, 2500)
      assert.deepEqual(values, Array.from({ length: 2500 }, (_, i) => (i % 500) ** 2))
    })

    it('runs a crashed task again when retries allow it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-'))
      try {
        await using ex = backend.create({ maxWorkers: 1, retries: 1 })
        assert.equal(await ex.submit(T.crashOnce, join(dir, 'marker')), 'second time lucky')
        const noRetry = ex.submitWith({ retries: 0 }, T.crashOnce, join(dir, 'other'))
        assert.ok((await rejection(noRetry)) instanceof WorkerCrashedError)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('a task module that kills its worker while loading fails the task that needed it, once', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const before = ex.submit(T.square, 3)
      const error = await rejection(ex.submit(task<() => number>(new URL('exits_on_import.ts', fixtures), 'never')))
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.equal(error.exitCode, 5)
      assert.match(String(error.task), /never/)
      assert.equal(await before, 9)
      assert.equal(await ex.submit(T.square, 4), 16)
    })

    if (backend.resourceLimits) {
      it('a worker out of memory under resourceLimits fails its task with WorkerCrashedError', async () => {
        await using ex = backend.create({ maxWorkers: 1, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } })
        const error = await rejection(ex.submit(T.allocateForever))
        assert.ok(error instanceof WorkerCrashedError, String(error))
        assert.match(error.message, /out of memory/)
        assert.equal(await ex.submit(T.square, 3), 9)
      })
    }
  })
}

// A crash inside a map chunk: the items that finished are delivered, only
// the running one fails (or runs again), the rest of the chunk is sent again.
for (const backend of backends().filter((b) => b.isolated)) {
  describe(`faults in map chunks [${backend.name}]`, () => {
    it('map with chunksize 10: the 5 results before a process.exit() are delivered, then its error', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const seen: number[] = []
      const error = await rejection(
        (async () => {
          for await (const y of ex.map(C.exitOnFive, Array.from({ length: 20 }, (_, i) => i), { chunksize: 10 })) seen.push(y as number)
        })(),
      )
      assert.deepEqual(seen, [0, 1, 4, 9, 16])
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.equal(error.exitCode, 3)
      assert.match(error.message, /while running item 5 of a chunk of task exitOnFive/)
      assert.equal(await ex.submit(T.square, 4), 16, 'the worker was replaced')
    })

    it('with retries the item runs again and the whole map completes, once per item', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-'))
      try {
        await using ex = backend.create({ maxWorkers: 2, retries: 1 })
        const items: CrashItem[] = Array.from({ length: 40 }, (_, x) => ({ x, ...(x % 10 === 3 ? { crash: 'exit' as const, once: join(dir, `m${x}`) } : {}) }))
        assert.deepEqual(await collect(ex.map(C.crashItem, items, { chunksize: 10 })), items.map((i) => i.x * 2))
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('an uncaught throw in a timer inside a chunk fails that item only; the items after it run', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const items: CrashItem[] = Array.from({ length: 12 }, (_, x) => ({ x, ...(x === 7 ? { crash: 'timer' as const } : {}) }))
      const result = await ex.submitChunk(resolveTask(C.crashItem), items.map((i) => [i]))
      assert.deepEqual([...(result.errors?.keys() ?? [])], [7])
      const error = result.errors!.get(7)
      assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.match(error.message, /item 7 threw in a timer/)
      assert.deepEqual(result.values.filter((_, i) => i !== 7), items.filter((i) => i.x !== 7).map((i) => i.x * 2))
    })

    if (backend.name !== 'nats') it('Pool({ retries: 2 }).imap over 400 items where 5 % crash on their first run completes with every result', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-'))
      try {
        await using pool = new Pool({ processes: 2, retries: 2, context: backend.name as 'thread' })
        const items: CrashItem[] = Array.from({ length: 400 }, (_, x) => ({ x, ...(x % 20 === 7 ? { crash: 'exit' as const, once: join(dir, `m${x}`) } : {}) }))
        const out = await collect(pool.imap(C.crashItem, items, { chunksize: 50 }))
        assert.deepEqual(out, items.map((i) => i.x * 2))
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('retries count per item: an item that always crashes fails after its retries, the others complete', async () => {
      await using ex = backend.create({ maxWorkers: 1, retries: 2 })
      const items: CrashItem[] = Array.from({ length: 30 }, (_, x) => ({ x, ...(x === 4 || x === 24 ? { crash: 'exit' as const } : {}) }))
      const result = await ex.submitChunk(resolveTask(C.crashItem), items.map((i) => [i]))
      assert.deepEqual([...(result.errors?.keys() ?? [])].sort((a, b) => a - b), [4, 24])
      for (const error of result.errors!.values()) assert.ok(error instanceof WorkerCrashedError, String(error))
      assert.deepEqual(result.values.filter((_, i) => i !== 4 && i !== 24), items.filter((i) => i.x !== 4 && i.x !== 24).map((i) => i.x * 2))
    })

    if (backend.name === 'process') {
      it('kill -9 in the middle of a long chunk: the values sent ahead stay, the item fails, the rest runs', async () => {
        await using ex = backend.create({ maxWorkers: 1 })
        // 20 ms per item: the chunk sends its values ahead every ~10 ms.
        const items: CrashItem[] = Array.from({ length: 16 }, (_, x) => ({ x, ms: 20, ...(x === 9 ? { crash: 'kill' as const } : {}) }))
        const result = await ex.submitChunk(resolveTask(C.crashItem), items.map((i) => [i]))
        assert.deepEqual([...(result.errors?.keys() ?? [])], [9])
        assert.equal((result.errors!.get(9) as WorkerCrashedError).signal, 'SIGKILL')
        assert.deepEqual(result.values.filter((_, i) => i !== 9), items.filter((i) => i.x !== 9).map((i) => i.x * 2))
      })
    }
  })
}

// A task module that cannot be imported fails its task with TaskImportError, on every backend.
for (const backend of backends()) {
  describe(`task modules that cannot be imported [${backend.name}]`, () => {
    it('a module that throws while it is imported: TaskImportError with the error as cause and the module URL', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const url = new URL('broken_module.ts', fixtures).href
      const error = await rejection(ex.submit(task<() => number>(url, 'never')))
      assert.ok(error instanceof TaskImportError, String(error))
      assert.equal(error.code, 'ERR_MP_TASK_IMPORT')
      assert.equal(error.moduleUrl, url)
      assert.equal((error.cause as Error).message, 'this module fails to import')
      assert.match(error.message, /Cannot import task module .*broken_module\.ts: Error: this module fails to import/)
      assert.equal(await ex.submit(T.square, 5), 25, 'the executor still works')
    })

    it('a module that does not exist: TaskImportError, in a map too', async () => {
      await using ex = backend.create({ maxWorkers: 1 })
      const url = new URL('no_such_module.ts', fixtures).href
      const error = await rejection(collect(ex.map(task<(x: number) => number>(url, 'f'), [1, 2, 3], { chunksize: 2 })))
      assert.ok(error instanceof TaskImportError, String(error))
      assert.equal(error.moduleUrl, url)
      assert.match(String((error.cause as NodeJS.ErrnoException).code), /ERR_MODULE_NOT_FOUND/)
    })
  })
}

// Spare threads (backends/thread/thread_start.ts): started before the executor exists, taken by its launches.
import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ThreadPoolExecutor } from '../../src/futures/thread_pool_executor.js'
import { discardSpareThreads, spareThreadCount, startSpareThreads } from '../../src/backends/thread/thread_start.js'
import * as T from '../fixtures/tasks.js'
import { threadBackend } from '../../src/backends/thread/thread_backend.js'
import { PROTOCOL_VERSION, type FromWorker } from '../../src/wire/messages.js'

const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).href

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('spare threads', () => {
  afterEach(() => discardSpareThreads())

  it('a launch with default options takes a spare, which runs its tasks with the environment of the launch', async () => {
    process.env.SPARE_TEST_GONE = 'set when the spare started'
    startSpareThreads(1)
    assert.equal(spareThreadCount(), 1)
    delete process.env.SPARE_TEST_GONE
    process.env.SPARE_TEST_NEW = 'set after'
    try {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 1 })
      assert.equal(await ex.submit(T.square, 7), 49)
      assert.equal(spareThreadCount(), 0, 'the spare was taken')
      assert.equal(ex.stats().workersStarted, 1)
      assert.equal(await ex.submit(T.envVar, 'SPARE_TEST_GONE'), undefined, 'a variable removed before the launch is gone')
      assert.equal(await ex.submit(T.envVar, 'SPARE_TEST_NEW'), 'set after')
      assert.ok((await ex.submit(T.budget)) !== undefined, "the launch's worker budget is there")
    } finally {
      delete process.env.SPARE_TEST_NEW
    }
  })

  it('a launch without an environment of its own gets the process environment of the launch, not of the spare start', async () => {
    startSpareThreads(1)
    process.env.SPARE_TEST_LATE = 'set after the spare started'
    try {
      // The initializer fails with the variable's value: the first message tells what the worker saw.
      const first = new Promise<FromWorker>((resolve) => {
        const handle = threadBackend.launch(
          {
            init: { v: PROTOCOL_VERSION, label: 'test', initializer: { module: fixture('tasks.ts'), name: 'failWithEnvVar' }, initargs: ['SPARE_TEST_LATE'] },
          },
          { onMessage: (message) => (resolve(message), handle.terminate()), onExit: () => {} },
        )
      })
      assert.equal(spareThreadCount(), 0, 'the spare was taken')
      const message = await first
      assert.equal(message.t, 'init-error')
      assert.match(JSON.stringify(message), /SPARE_TEST_LATE=set after the spare started/)
    } finally {
      delete process.env.SPARE_TEST_LATE
    }
  })

  it('a launch with Node options of its own starts its own thread and leaves the spare', async () => {
    startSpareThreads(1)
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1, resourceLimits: { maxOldGenerationSizeMb: 256 } })
    assert.equal(await ex.submit(T.add, 2, 3), 5)
    assert.equal(spareThreadCount(), 1)
    discardSpareThreads()
    assert.equal(spareThreadCount(), 0)
  })

  it('a spare whose preload fails to import still works; one that died is not taken', async () => {
    startSpareThreads(1, [fixture('broken_module.ts')])
    {
      await using ex = new ThreadPoolExecutor({ maxWorkers: 1 })
      assert.equal(await ex.submit(T.square, 3), 9)
      assert.equal(spareThreadCount(), 0)
    }
    startSpareThreads(1, [fixture('exits_on_import.ts')])
    await until(() => spareThreadCount() === 0, 10_000)
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1 })
    assert.equal(await ex.submit(T.square, 4), 16)
    assert.equal(ex.stats().workersStarted, 1)
  })
})

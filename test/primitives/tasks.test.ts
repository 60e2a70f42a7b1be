// Primitives passed to pool tasks (not only to Processes), on every
// executor backend: the same objects, shared by the tasks and the caller.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Lock, Queue, UnsupportedBackendError, getContext } from '../../src/index.js'
import { increment, putMany } from '../fixtures/primitives.js'
import { backends } from '../conformance/backends.js'

for (const backend of backends()) {
  describe(`primitives as task arguments [${backend.name}]`, () => {
    if (backend.name === 'nats') {
      // Cluster workers run on other machines: machine-local objects are refused at submit.
      it('refuses a Queue and a Lock at submit with UnsupportedBackendError', async () => {
        await using ex = backend.create()
        assert.throws(() => ex.submit(putMany, new Queue<string>(), 1, 1), (e: unknown) => e instanceof UnsupportedBackendError && /cannot be passed to the nats backend/.test(e.message))
        assert.throws(() => ex.submit(increment, new Lock(), new (getContext('thread').Value)('i32', 0), 1), UnsupportedBackendError)
      })
      return
    }
    it('tasks put on a queue the caller reads, and count under a lock', async () => {
      await using ex = backend.create()
      const q = new Queue<string>()
      await Promise.all([ex.submit(putMany, q, 5, 1), ex.submit(putMany, q, 5, 1)])
      assert.equal(q.qsize(), 10)
      const lock = new Lock()
      const ctx = getContext(backend.name === 'process' ? 'process' : 'thread')
      const counter = new ctx.Value('i32', 0)
      await Promise.all([0, 1, 2].map(() => ex.submit(increment, lock, counter, 100)))
      assert.equal(counter.value, 300)
    })
  })
}

describe('Process on the inline context', () => {
  it('runs in the calling thread and shares its primitives', async () => {
    const ctx = getContext('inline')
    const q = new Queue<string>()
    const p = new ctx.Process({ target: putMany, args: [q, 3, 1] })
    p.start()
    await p.join()
    assert.equal(p.exitCode, 0)
    assert.equal(q.qsize(), 3)
  })
})

// The SharedMemory behaviour suite, run once with the native addon
// (shared_memory.test.ts) and once without it (fallback.test.ts): each test
// file runs in its own process, so the mode is fixed per file.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { backends } from '../conformance/backends.js'
import { rejection } from '../helpers.js'

export async function sharedMemorySuite(mode: 'posix' | 'sharedarraybuffer'): Promise<void> {
  const { SharedMemory, ShareableList, UnsupportedBackendError, InvalidStateError } = await import('../../src/index.js')
  const tasks = await import('../fixtures/shm_tasks.js')
  const created: { unlink(): void }[] = []
  const track = <T extends { unlink(): void }>(shm: T): T => (created.push(shm), shm)
  after(() => {
    for (const shm of created) {
      try {
        shm.unlink()
      } catch {}
    }
  })

  describe(`SharedMemory [${mode}], in the caller`, () => {
    it('uses the expected implementation', () => {
      assert.equal(SharedMemory.backend, mode)
    })

    it('creates, attaches by name, sees writes both ways, closes and unlinks', () => {
      const a = track(new SharedMemory({ create: true, size: 64 }))
      assert.match(a.name, /^mp_[0-9a-f]{16}$/)
      assert.equal(a.size, 64)
      assert.equal(a.buf.length, 64)
      const b = new SharedMemory({ name: a.name })
      a.buf[3] = 42
      assert.equal(b.buf[3], 42)
      b.view(Int32Array)[4] = -7
      assert.equal(a.view(Int32Array)[4], -7)
      b.close()
      assert.equal(b.closed, true)
      assert.throws(() => b.buf, InvalidStateError)
      assert.equal(a.buf[3], 42, 'closing one handle leaves the others alone')
      a.unlink()
      created.pop()
      assert.equal(a.buf[3], 42, 'an unlinked block stays mapped until closed')
      assert.throws(() => new SharedMemory({ name: a.name }), { code: 'ENOENT' })
      a.close()
    })

    it('refuses bad arguments and duplicate names with typed errors', () => {
      assert.throws(() => new SharedMemory({ create: true, size: 0 }), RangeError)
      assert.throws(() => new SharedMemory({ create: true }), TypeError)
      assert.throws(() => new SharedMemory({}), TypeError)
      assert.throws(() => new SharedMemory({ name: 'a/b' }), RangeError)
      assert.throws(() => new SharedMemory({ name: 'mp_does_not_exist_123' }), { code: 'ENOENT' })
      const a = track(new SharedMemory({ create: true, size: 8 }))
      assert.throws(() => new SharedMemory({ name: a.name, create: true, size: 8 }), { code: 'EEXIST' })
    })

    it('ShareableList holds numbers, booleans, strings, bytes and null in a fixed layout', () => {
      const list = new ShareableList([1.5, true, 'héllo', null, new Uint8Array([1, 2]), -3])
      track(list.shm)
      assert.deepEqual(list.toArray(), [1.5, true, 'héllo', null, new Uint8Array([1, 2]), -3])
      const other = new ShareableList(null, { name: list.shm.name })
      other.set(0, 99)
      other.set(2, 'hi')
      assert.equal(list.get(0), 99)
      assert.equal(list.get(2), 'hi')
      assert.equal(list.at(-1), -3)
      assert.equal(list.count(99), 1)
      assert.equal(list.index(null), 3)
      assert.throws(() => list.set(2, 'a string longer than its slot'), RangeError)
      assert.throws(() => list.set(6, 1), RangeError)
      assert.throws(() => list.set(0, {} as never), TypeError)
      assert.throws(() => new ShareableList(null, {}), TypeError)
      other.shm.close()
    })
  })

  for (const backend of backends()) {
    describe(`SharedMemory [${mode}] in workers [${backend.name}]`, () => {
      const reaches = backend.sameMachine && (mode === 'posix' || backend.sharedMemory)

      if (!backend.sameMachine) {
        it('refuses to hand a block to workers on other machines (UnsupportedBackendError)', async () => {
          await using ex = backend.create({ maxWorkers: 1 })
          const shm = track(new SharedMemory({ create: true, size: 16 }))
          const error = await rejection((async () => ex.submit(tasks.doubleAndSum, shm, 0, 2))())
          assert.ok(error instanceof UnsupportedBackendError, String(error))
          assert.match(error.message, /does not span machines/)
          const list = new ShareableList([1, 2])
          track(list.shm)
          const listError = await rejection((async () => ex.submit(tasks.editList, list))())
          assert.ok(listError instanceof UnsupportedBackendError, String(listError))
          assert.match(listError.message, /does not span machines/)
        })
        return
      }

      if (!reaches) {
        it('refuses to hand a block to a backend it cannot reach (UnsupportedBackendError)', async () => {
          await using ex = backend.create({ maxWorkers: 1 })
          const shm = track(new SharedMemory({ create: true, size: 16 }))
          const error = await rejection((async () => ex.submit(tasks.doubleAndSum, shm, 0, 2))())
          assert.ok(error instanceof UnsupportedBackendError, String(error))
          assert.match(error.message, /native addon/)
        })
        return
      }

      it('a block passed as an argument is changed in place, seen by the caller', async () => {
        await using ex = backend.create()
        const shm = track(new SharedMemory({ create: true, size: 8 * 1000 }))
        const xs = shm.view(Float64Array)
        for (let i = 0; i < 1000; i++) xs[i] = i
        const [s1, s2] = await Promise.all([ex.submit(tasks.doubleAndSum, shm, 0, 500), ex.submit(tasks.doubleAndSum, shm, 500, 1000)])
        assert.equal(s1 + s2, 2 * ((999 * 1000) / 2))
        for (let i = 0; i < 1000; i++) assert.equal(xs[i], 2 * i)
      })

      it('workers attach by name and their writes are visible', async () => {
        await using ex = backend.create({ maxWorkers: 1 })
        const shm = track(new SharedMemory({ create: true, size: 4 }))
        // In fallback mode a thread learns a name when a block reaches it.
        if (mode === 'sharedarraybuffer') await ex.submit(tasks.doubleAndSum, shm, 0, 0)
        assert.equal(await ex.submit(tasks.writeByName, shm.name, 2, 77), 4)
        assert.equal(shm.buf[2], 77)
        shm.buf[0] = 5
        assert.deepEqual(await ex.submit(tasks.readByName, shm.name), [5, 0, 77, 0])
      })

      it('ShareableList passed to a worker is edited in place', async () => {
        await using ex = backend.create({ maxWorkers: 1 })
        const list = new ShareableList([41, false, 'a string slot', 'x'])
        track(list.shm)
        const seen = await ex.submit(tasks.editList, list)
        assert.deepEqual(seen, [42, true, 'changed', null])
        assert.deepEqual(list.toArray(), [42, true, 'changed', null])
        assert.deepEqual(await ex.submit(tasks.readListByName, list.shm.name), [42, true, 'changed', null])
      })
    })
  }
}

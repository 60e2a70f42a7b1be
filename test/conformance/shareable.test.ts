// Library objects passed as arguments travel as descriptors and are rebuilt
// in the worker as the same class, attached to the same state where the
// backend shares memory (wire/shareable.ts).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SharedCounter, bumpAll, bumpInitCounter, bumpOne, initWithCounter } from '../fixtures/shared_counter.js'
import { backends } from './backends.js'
import { collect } from '../helpers.js'

for (const backend of backends()) {
  describe(`shareable arguments [${backend.name}]`, () => {
    it('are rebuilt as their class, nested in arrays, objects and maps', async () => {
      await using ex = backend.create()
      const a = new SharedCounter()
      const b = new SharedCounter()
      const out = await ex.submit(bumpAll, { counters: [a, a], byName: new Map([['b', b]]) })
      assert.equal(out.length, 3)
      for (const line of out) assert.match(line, new RegExp(`^${backend.name}:`))
      if (backend.sharedMemory) {
        assert.deepEqual(out, [`${backend.name}:1`, `${backend.name}:2`, `${backend.name}:1`], 'the same object twice is revived once')
        assert.equal(a.value, 2, 'the caller sees the increments')
        assert.equal(b.value, 1)
      }
    })

    it('work in map chunks', async () => {
      const counter = new SharedCounter()
      await using ex = backend.create({ maxWorkers: 1 })
      const values = await collect(ex.map(bumpOne, [counter, counter, counter], { chunksize: 3 }))
      if (backend.sharedMemory) {
        assert.deepEqual(values, [1, 2, 3])
        assert.equal(counter.value, 3)
      } else {
        assert.equal(values.length, 3)
      }
    })

    if (backend.initializer) {
      it('work in initargs', async () => {
        const counter = new SharedCounter()
        await using ex = backend.create({ maxWorkers: 1, initializer: initWithCounter, initargs: [counter] })
        assert.equal(await ex.submit(bumpInitCounter), 1)
        const values = await collect(ex.map(bumpOne, [counter, counter, counter], { chunksize: 3 }))
        if (backend.sharedMemory) {
          assert.deepEqual(values, [2, 3, 4])
          assert.equal(counter.value, 4)
        } else {
          assert.equal(values.length, 3)
        }
      })
    }
  })
}

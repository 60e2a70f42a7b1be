// Value, Array (SharedArray), RawValue, RawArray: types, bounds, locks, and
// in-place changes seen by every worker on every context.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Array as MpArray, Lock, RawArray, RawValue, SharedArray, Value, getContext } from '../../src/index.js'
import { addToAll } from '../fixtures/primitives.js'
import { contexts, runAll } from './contexts.js'

describe('Value and Array (one thread)', () => {
  it('hold typed numbers: integers wrap, floats and bigints keep their type', () => {
    const i8 = new Value('i8', 127)
    i8.value += 1
    assert.equal(i8.value, -128)
    assert.equal(new Value('d', 0.5).value, 0.5)
    assert.equal(new Value('bigint64', 5n).value, 5n)
    assert.throws(() => new Value('bigint64', 5 as never), TypeError)
    assert.throws(() => new Value('int' as unknown as 'i32', 0), TypeError)
  })

  it('Array is indexable, iterable, bounded; Array and SharedArray are one class', () => {
    assert.equal(MpArray, SharedArray)
    const a = new SharedArray('i32', [1, 2, 3])
    a[1] = 20
    assert.equal(a[1], 20)
    assert.equal(a.length, 3)
    assert.deepEqual([...a], [1, 20, 3])
    assert.deepEqual(a.toArray(), [1, 20, 3])
    assert.throws(() => a.get(3), RangeError)
    assert.deepEqual(new SharedArray('f64', 2).toArray(), [0, 0])
  })

  it('locks: an RLock by default, the one given, none for Raw*', () => {
    const lock = new Lock()
    assert.equal(new Value('i32', 0, { lock }).getLock(), lock)
    assert.ok(new Value('i32', 0).getLock())
    assert.throws(() => RawValue('i32', 0).getLock(), TypeError)
    assert.throws(() => RawArray('i32', 2).getLock(), TypeError)
  })

  it('the process context keeps them in a shared file, with the same behaviour', () => {
    const v = new (getContext('process').Value)('f64', 1.5)
    v.value *= 2
    assert.equal(v.value, 3)
    const a = new (getContext('process').Array)('u8', [250, 1])
    a[0] = a[0]! + 10
    assert.deepEqual(a.toArray(), [4, 1])
    assert.equal(getContext('process').RawValue('i32', 7).value, 7)
  })
})

for (const ctx of contexts()) {
  describe(`Array across workers [${ctx.name}]`, () => {
    it('every worker changes the same array in place, under its lock', async () => {
      const a = new ctx.Array('i32', 8)
      await runAll([1, 2, 3].map((d) => new ctx.Process({ target: addToAll, args: [a, d] })))
      assert.deepEqual(a.toArray(), new globalThis.Array(8).fill(6))
    })
  })
}

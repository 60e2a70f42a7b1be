// packNumbers: a map's numbers as one typed array, every number kept as it is.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isPacked, packNumbers, unpacked } from '../../src/internal/pack_numbers.js'

describe('packNumbers', () => {
  it('packs int32 items into an Int32Array, from `from` to `to`', () => {
    const packed = packNumbers([9, 1, -2, 2 ** 31 - 1, -(2 ** 31), 9], 1, 5)
    assert.ok(packed instanceof Int32Array)
    assert.deepEqual([...packed], [1, -2, 2 ** 31 - 1, -(2 ** 31)])
    assert.ok(isPacked(packed))
  })

  it('packs other numbers into a Float64Array, the ints before them included, each kept as it is', () => {
    const items = [1, 2, -0, 0.5, NaN, Infinity, 2 ** 31, -(2 ** 53), 3]
    const packed = packNumbers(items, 0, items.length)
    assert.ok(packed instanceof Float64Array)
    assert.equal(packed.length, items.length)
    for (let i = 0; i < items.length; i++) assert.ok(Object.is(packed[i], items[i]), `item ${i}: ${packed[i]} for ${items[i]}`)
  })

  it('returns null when an item is not a number (before or after a double), or is a hole', () => {
    assert.equal(packNumbers([1, '2', 3], 0, 3), null)
    assert.equal(packNumbers([1, 0.5, 2n], 0, 3), null)
    assert.equal(packNumbers([1, , 3], 0, 3), null) // eslint-disable-line no-sparse-arrays
    assert.equal(packNumbers([1, new Number(2)], 0, 2), null)
    assert.equal(isPacked([1, 2]), false)
  })
})

describe('unpacked', () => {
  it('makes packed numbers an array again, and gives an array back as it is', () => {
    const back = unpacked(new Float64Array([1, -0, 0.5, NaN]))
    assert.ok(Array.isArray(back))
    assert.deepEqual(back, [1, -0, 0.5, NaN])
    assert.deepEqual(unpacked(new Int32Array([3, -4])), [3, -4])
    const array = [1, 'x']
    assert.equal(unpacked(array), array)
  })
})

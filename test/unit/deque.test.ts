// Deque: a ring buffer checked against a plain array, operation by operation.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Deque } from '../../src/internal/deque.js'

/** mulberry32: a small seeded PRNG, so every run does the same operations. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function assertSame<T>(deque: Deque<T>, model: T[], context: string): void {
  assert.equal(deque.length, model.length, `length ${context}`)
  assert.deepEqual([...deque], model, `contents ${context}`)
  assert.equal(deque.peek(), model[0], `peek ${context}`)
}

describe('Deque', () => {
  it('starts empty', () => {
    const d = new Deque<number>()
    assert.equal(d.length, 0)
    assert.equal(d.shift(), undefined)
    assert.equal(d.pop(), undefined)
    assert.equal(d.peek(), undefined)
    assert.equal(d.at(0), undefined)
    assert.deepEqual(d.drain(), [])
    assert.deepEqual([...d], [])
  })

  it('push/shift is FIFO', () => {
    const d = new Deque<string>()
    d.push('a')
    d.push('b')
    d.push('c')
    assert.equal(d.length, 3)
    assert.equal(d.peek(), 'a')
    assert.equal(d.shift(), 'a')
    assert.equal(d.shift(), 'b')
    assert.equal(d.shift(), 'c')
    assert.equal(d.shift(), undefined)
    assert.equal(d.length, 0)
  })

  it('push/pop is LIFO', () => {
    const d = new Deque<number>()
    for (let i = 0; i < 5; i++) d.push(i)
    assert.deepEqual([d.pop(), d.pop(), d.pop(), d.pop(), d.pop(), d.pop()], [4, 3, 2, 1, 0, undefined])
  })

  it('unshift puts in front', () => {
    const d = new Deque<number>()
    d.push(2)
    d.unshift(1)
    d.unshift(0)
    d.push(3)
    assert.deepEqual([...d], [0, 1, 2, 3])
    assert.equal(d.peek(), 0)
  })

  it('unshift on an empty deque wraps around the start of the buffer', () => {
    const d = new Deque<number>()
    d.unshift(1)
    d.unshift(0)
    assert.deepEqual([...d], [0, 1])
    assert.equal(d.pop(), 1)
    assert.equal(d.pop(), 0)
    assert.equal(d.length, 0)
  })

  it('at() reads by position from the front; out of range is undefined', () => {
    const d = new Deque<string>()
    d.push('b')
    d.push('c')
    d.unshift('a')
    assert.equal(d.at(0), 'a')
    assert.equal(d.at(1), 'b')
    assert.equal(d.at(2), 'c')
    assert.equal(d.at(3), undefined)
    assert.equal(d.at(100), undefined)
    assert.equal(d.at(-1), undefined, 'no negative indexing')
  })

  it('holds undefined and null like any value', () => {
    const d = new Deque<unknown>()
    d.push(undefined)
    d.push(null)
    assert.equal(d.length, 2)
    assert.deepEqual([...d], [undefined, null])
    assert.equal(d.shift(), undefined)
    assert.equal(d.length, 1)
  })

  it('grows past its capacity while the contents wrap around', () => {
    const d = new Deque<number>(16)
    const model: number[] = []
    for (let i = 0; i < 10; i++) {
      d.push(i)
      model.push(i)
    }
    for (let i = 0; i < 8; i++) assert.equal(d.shift(), model.shift())
    // head is now at 8; these wrap past the end of the 16 slots, then force a grow.
    for (let i = 10; i < 40; i++) {
      d.push(i)
      model.push(i)
      assertSame(d, model, `after push ${i}`)
    }
    for (let i = 0; i < 5; i++) {
      d.unshift(-i)
      model.unshift(-i)
    }
    assertSame(d, model, 'after unshifts')
    assert.deepEqual(d.drain(), model)
  })

  it('grows when full through unshift alone', () => {
    const d = new Deque<number>()
    const model: number[] = []
    for (let i = 0; i < 100; i++) {
      d.unshift(i)
      model.unshift(i)
    }
    assertSame(d, model, 'after 100 unshifts')
    for (let i = 0; i < model.length; i++) assert.equal(d.at(i), model[i])
  })

  it('a capacity that is not a power of two is rounded up, and a small one is fine', () => {
    for (const capacity of [0, 1, 3, 17, 100, 1000]) {
      const d = new Deque<number>(capacity)
      for (let i = 0; i < 50; i++) d.push(i)
      assert.deepEqual([...d], Array.from({ length: 50 }, (_, i) => i), `capacity ${capacity}`)
    }
  })

  it('drain() returns everything oldest first and empties the deque', () => {
    const d = new Deque<number>()
    for (let i = 0; i < 20; i++) d.push(i)
    for (let i = 0; i < 5; i++) d.shift()
    d.unshift(99)
    const out = d.drain()
    assert.deepEqual(out, [99, ...Array.from({ length: 15 }, (_, i) => i + 5)])
    assert.equal(d.length, 0)
    assert.equal(d.shift(), undefined)
    d.push(1)
    assert.deepEqual([...d], [1], 'usable after drain')
  })

  it('clear() empties it and it stays usable', () => {
    const d = new Deque<number>()
    for (let i = 0; i < 30; i++) d.push(i)
    d.clear()
    assert.equal(d.length, 0)
    assert.equal(d.peek(), undefined)
    d.unshift(2)
    d.push(3)
    assert.deepEqual([...d], [2, 3])
  })

  it('does not keep references to removed items', () => {
    // Removed slots are cleared: a removed item shows up nowhere in the iteration,
    // and the deque can be filled again at the same positions.
    const d = new Deque<object>()
    const items = Array.from({ length: 16 }, (_, i) => ({ i }))
    for (const item of items) d.push(item)
    for (let i = 0; i < 16; i++) d.shift()
    d.push(items[0]!)
    assert.deepEqual([...d], [items[0]])
  })

  for (const seed of [1, 42, 2024, 0xdeadbeef]) {
    it(`matches an array model on a random sequence of operations (seed ${seed})`, () => {
      const random = prng(seed)
      const d = new Deque<number>(Math.floor(random() * 40))
      const model: number[] = []
      let next = 0
      for (let step = 0; step < 5_000; step++) {
        const r = random()
        // Biased towards adding for the first half, removing for the second, so it grows and shrinks.
        const addBias = step < 2_500 ? 0.6 : 0.4
        const context = `at step ${step} (seed ${seed})`
        if (r < addBias / 2) {
          d.push(next)
          model.push(next++)
        } else if (r < addBias) {
          d.unshift(next)
          model.unshift(next++)
        } else if (r < addBias + (1 - addBias) * 0.4) {
          assert.equal(d.shift(), model.shift(), `shift ${context}`)
        } else if (r < addBias + (1 - addBias) * 0.8) {
          assert.equal(d.pop(), model.pop(), `pop ${context}`)
        } else if (r < 0.96) {
          const index = Math.floor(random() * (model.length + 4)) - 2
          assert.equal(d.at(index), index < 0 ? undefined : model[index], `at(${index}) ${context}`)
        } else if (r < 0.995) {
          const index = Math.floor(random() * (model.length + 2)) - 1
          const expected = index < 0 || index >= model.length ? undefined : model.splice(index, 1)[0]
          assert.equal(d.removeAt(index), expected, `removeAt(${index}) ${context}`)
        } else {
          assert.deepEqual(d.drain(), model.splice(0), `drain ${context}`)
        }
        assert.equal(d.length, model.length, `length ${context}`)
        assert.equal(d.peek(), model[0], `peek ${context}`)
        if (step % 97 === 0) assertSame(d, model, context)
      }
      assertSame(d, model, `at the end (seed ${seed})`)
    })
  }
})

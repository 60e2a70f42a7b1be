// What may cross to a worker: findUncloneable() (what submit() refuses, and where) and transfer().
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MessageChannel } from 'node:worker_threads'
import { findUncloneable } from '../../src/wire/clone_check.js'
import { isTransfer, transfer } from '../../src/wire/transfer.js'

type CloneTransfer = NonNullable<Parameters<typeof structuredClone>[1]>['transfer']

/** findUncloneable must agree with structuredClone about whether a value can travel. */
function assertAgreesWithClone(value: unknown, transferList?: readonly unknown[]): void {
  let clones = true
  try {
    structuredClone(value, transferList === undefined ? undefined : { transfer: transferList as CloneTransfer })
  } catch {
    clones = false
  }
  assert.equal(findUncloneable(value, 'v', transferList) === null, clones)
}

describe('findUncloneable: values that travel', () => {
  const fine: [string, unknown][] = [
    ['numbers', 1.5],
    ['NaN', Number.NaN],
    ['strings', 'text'],
    ['booleans', true],
    ['undefined', undefined],
    ['null', null],
    ['bigint', 10n ** 30n],
    ['a plain object', { a: 1, b: 'x', c: [1, 2, { d: null }] }],
    ['an array of primitives', [1, 'a', null, undefined, true, 3n]],
    ['a sparse array', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
    ['a Date', new Date(0)],
    ['a RegExp', /x+/gi],
    ['boxed primitives', [Object(1), Object('s'), Object(true), Object(1n)]],
    ['a Map', new Map<unknown, unknown>([['a', 1], [{ k: 1 }, [2]]])],
    ['a Set', new Set([1, 'a', { b: 2 }])],
    ['typed arrays', [new Uint8Array(4), new Float64Array(2), new BigInt64Array(1), new DataView(new ArrayBuffer(2))]],
    ['an ArrayBuffer', new ArrayBuffer(8)],
    ['a SharedArrayBuffer', new SharedArrayBuffer(8)],
    ['errors', [new Error('x'), new TypeError('y', { cause: 1 })]],
    ['an error with a function property (ignored by the clone)', Object.assign(new Error('x'), { fn: () => 1 })],
    ['symbol-keyed properties (ignored by the clone)', { [Symbol('s')]: () => 1, a: 1 }],
    ['non-enumerable functions (ignored by the clone)', Object.defineProperty({ a: 1 }, 'fn', { value: () => 1, enumerable: false })],
  ]
  for (const [label, value] of fine) {
    it(label, () => {
      assert.equal(findUncloneable(value, 'args[0]'), null)
      assertAgreesWithClone(value)
    })
  }

  it('a class instance that clones fine (it arrives as a plain object)', () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
      norm(): number {
        return Math.hypot(this.x, this.y)
      }
    }
    assert.equal(findUncloneable(new Point(1, 2), 'args[0]'), null)
    assert.equal(findUncloneable({ p: new Point(1, 2) }, 'args[0]'), null)
  })

  it('a Map and a Set subclass', () => {
    class MyMap extends Map<string, number> {}
    class MySet extends Set<number> {}
    assert.equal(findUncloneable([new MyMap([['a', 1]]), new MySet([1])], 'args'), null)
  })

  it('cycles do not hang', () => {
    const a: Record<string, unknown> = { name: 'a' }
    const b: Record<string, unknown> = { name: 'b', a }
    a.b = b
    a.self = a
    const list: unknown[] = [a]
    list.push(list)
    const map = new Map<unknown, unknown>()
    map.set('me', map)
    const set = new Set<unknown>()
    set.add(set)
    for (const value of [a, list, map, set]) {
      assert.equal(findUncloneable(value, 'args[0]'), null)
      assertAgreesWithClone(value)
    }
  })

  it('the same object twice is fine (a DAG, not a cycle)', () => {
    const shared = { x: 1 }
    assert.equal(findUncloneable({ a: shared, b: shared, c: [shared, shared] }, 'args[0]'), null)
  })

  it('deep nesting well past the walk limit', () => {
    let deep: unknown = { leaf: true }
    for (let i = 0; i < 1_000; i++) deep = { d: deep }
    assert.equal(findUncloneable(deep, 'args[0]'), null)
    let deepArray: unknown = [1]
    for (let i = 0; i < 1_000; i++) deepArray = [deepArray]
    assert.equal(findUncloneable(deepArray, 'args[0]'), null)
  })
})

describe('findUncloneable: values that do not travel, and where', () => {
  it('a function at the top level, named', () => {
    function callback(): void {}
    const problem = findUncloneable(callback, 'args[0]')
    assert.deepEqual(problem, {
      path: 'args[0]',
      reason:
        'args[0] is a function (callback); functions cannot be sent to a worker, pass data, or pass an exported function as the task itself',
    })
  })

  it('an anonymous function', () => {
    const problem = findUncloneable([() => 1], 'args')
    assert.equal(problem?.path, 'args[0]')
    assert.match(problem!.reason, /^args\[0\] is a function; functions cannot be sent/)
  })

  it('a path like args[0].a.b[2]', () => {
    const value = { a: { b: [1, 2, () => 3] } }
    const problem = findUncloneable(value, 'args[0]')
    assert.equal(problem?.path, 'args[0].a.b[2]')
    assert.match(problem!.reason, /^args\[0\]\.a\.b\[2\] is a function/)
  })

  it('the first problem is reported', () => {
    const problem = findUncloneable({ ok: 1, first: () => 1, second: Symbol('s') }, 'x')
    assert.equal(problem?.path, 'x.first')
  })

  it('a symbol', () => {
    assert.deepEqual(findUncloneable({ tag: Symbol('t') }, 'args[1]'), {
      path: 'args[1].tag',
      reason: 'args[1].tag is a symbol; symbols cannot be sent to a worker',
    })
    assert.equal(findUncloneable([Symbol.iterator], 'args')?.path, 'args[0]')
  })

  it('a Promise', () => {
    const problem = findUncloneable({ later: Promise.resolve(1) }, 'args[0]')
    assert.deepEqual(problem, { path: 'args[0].later', reason: 'args[0].later is a Promise; await it first and send its value' })
  })

  it('a WeakMap, a WeakSet, a WeakRef', () => {
    for (const [value, cls] of [
      [new WeakMap(), 'WeakMap'],
      [new WeakSet(), 'WeakSet'],
      [new WeakRef({}), 'WeakRef'],
    ] as const) {
      const problem = findUncloneable({ w: value }, 'args[0]')
      assert.equal(problem?.path, 'args[0].w', cls)
      assert.match(problem!.reason, new RegExp(`^args\\[0\\]\\.w is a ${cls} that cannot be cloned \\(.+\\)$`))
    }
  })

  it('a class instance that does not clone (a function field) is reported at the instance', () => {
    class Handler {
      onEvent = (): void => {}
    }
    const problem = findUncloneable([new Handler()], 'args')
    assert.equal(problem?.path, 'args[0]')
    assert.match(problem!.reason, /^args\[0\] is a Handler that cannot be cloned/)
  })

  it('a MessagePort not in the transfer list is refused; in the list it is fine', () => {
    const { port1, port2 } = new MessageChannel()
    try {
      const problem = findUncloneable({ port: port1 }, 'args[0]')
      assert.equal(problem?.path, 'args[0].port')
      assert.match(problem!.reason, /MessagePort that cannot be cloned/)
      assert.equal(findUncloneable({ port: port1 }, 'args[0]', [port1]), null)
      assert.equal(findUncloneable([port1, port2], 'args', [port1])?.path, 'args[1]')
    } finally {
      port1.close()
      port2.close()
    }
  })

  it('Map keys and values', () => {
    const key = { k: 1 }
    assert.equal(findUncloneable(new Map([['a', () => 1]]), 'm')?.path, 'm.get("a")')
    assert.equal(findUncloneable(new Map([[7, { f: () => 1 }]]), 'm')?.path, 'm.get(7).f')
    assert.equal(findUncloneable(new Map([[() => 1, 'v']]), 'm')?.path, 'm.keys()[0]')
    assert.equal(findUncloneable(new Map<unknown, unknown>([[key, 1], [{ bad: Symbol('s') }, 2]]), 'm')?.path, 'm.keys()[1].bad')
  })

  it('Set entries', () => {
    assert.equal(findUncloneable(new Set([1, 2, () => 3]), 's')?.path, 's.values()[2]')
    assert.equal(findUncloneable({ s: new Set([{ x: Symbol('y') }]) }, 'args[0]')?.path, 'args[0].s.values()[0].x')
  })

  it('inside a null-prototype object', () => {
    const bag = Object.create(null) as Record<string, unknown>
    bag.fn = () => 1
    assert.equal(findUncloneable(bag, 'opts')?.path, 'opts.fn')
  })

  it('inside a cycle', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    a.fn = () => 1
    assert.equal(findUncloneable(a, 'args[0]')?.path, 'args[0].fn')
  })

  it('deep nesting past the walk limit still finds the problem', () => {
    let deep: unknown = () => 1
    for (let i = 0; i < 1_000; i++) deep = { d: deep }
    const problem = findUncloneable(deep, 'args[0]')
    assert.ok(problem !== null)
    assert.ok(problem.path.startsWith('args[0].d.d.d'))
  })

  it('a function in an object that also holds a typed array', () => {
    const problem = findUncloneable({ data: new Float32Array(4), done: () => {} }, 'args[0]')
    assert.equal(problem?.path, 'args[0].done')
  })

  it(
    'a function stored as an extra property of an array',
    () => {
      const list = Object.assign([1, 2], { callback: () => 1 })
      assertAgreesWithClone(list)
      assert.equal(findUncloneable(list, 'args[0]')?.path, 'args[0].callback')
    },
  )

  it('a boxed Symbol', () => {
    assertAgreesWithClone(Object(Symbol('boxed')))
  })
})

describe('transfer()', () => {
  it('an ArrayBuffer is its own transfer list', () => {
    const buffer = new ArrayBuffer(16)
    const t = transfer(buffer)
    assert.equal(t.value, buffer)
    assert.deepEqual(t.transferList, [buffer])
    assert.equal(t.transferList[0], buffer)
    assert.equal(isTransfer(t), true)
  })

  it("a typed array transfers its buffer", () => {
    const bytes = new Uint8Array(32)
    const t = transfer(bytes)
    assert.equal(t.value, bytes)
    assert.equal(t.transferList.length, 1)
    assert.equal(t.transferList[0], bytes.buffer)
    const view = new DataView(new ArrayBuffer(4))
    assert.equal(transfer(view).transferList[0], view.buffer)
  })

  it('a view on a SharedArrayBuffer transfers nothing (it is shared already)', () => {
    const shared = new Int32Array(new SharedArrayBuffer(16))
    assert.deepEqual(transfer(shared).transferList, [])
    assert.deepEqual(transfer(new SharedArrayBuffer(8)).transferList, [])
  })

  it('any other value gets an empty list', () => {
    for (const value of [1, 'x', null, undefined, { a: new ArrayBuffer(1) }, [new ArrayBuffer(1)]]) {
      assert.deepEqual(transfer(value).transferList, [])
    }
  })

  it('an explicit list is used as given', () => {
    const a = new ArrayBuffer(1)
    const b = new ArrayBuffer(2)
    const value = { a, b }
    const t = transfer(value, [a, b])
    assert.equal(t.value, value)
    assert.deepEqual(t.transferList, [a, b])
    assert.deepEqual(transfer(new ArrayBuffer(4), []).transferList, [], 'an explicit empty list is kept')
  })

  it('is frozen', () => {
    const t = transfer(new ArrayBuffer(1))
    assert.equal(Object.isFrozen(t), true)
    assert.throws(() => {
      ;(t as { value: unknown }).value = 1
    }, TypeError)
  })

  it('the transfer list really moves the buffer through a structured clone', () => {
    const bytes = new Uint8Array([1, 2, 3])
    const t = transfer(bytes)
    const moved = structuredClone(t.value, { transfer: t.transferList as CloneTransfer })
    assert.deepEqual([...moved], [1, 2, 3])
    assert.equal(bytes.byteLength, 0, 'the original is detached')
  })
})

describe('isTransfer()', () => {
  it('false for everything that transfer() did not make', () => {
    const buffer = new ArrayBuffer(1)
    for (const value of [null, undefined, 1, 'transfer', buffer, { value: buffer, transferList: [buffer] }, [buffer]]) {
      assert.equal(isTransfer(value), false, String(value))
    }
  })

  it('recognises the registered symbol, so a copy of the library agrees', () => {
    const lookalike = { value: 1, transferList: [], [Symbol.for('multiproc.Transfer')]: true }
    assert.equal(isTransfer(lookalike), true)
    assert.equal(isTransfer({ value: 1, transferList: [], [Symbol('multiproc.Transfer')]: true }), false)
  })
})

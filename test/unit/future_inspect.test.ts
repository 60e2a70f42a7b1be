// console.log(future) prints a short description of its state, not internals.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { inspect, format } from 'node:util'
import { Future, InlineExecutor } from '../../src/index.js'
import { square, failOn } from '../fixtures/tasks.js'

describe('Future: inspect and toString', () => {
  it('pending, running, finished', () => {
    const f = new Future<number>()
    assert.equal(inspect(f), 'Future<pending>')
    f.setRunningOrNotifyCancel()
    assert.equal(inspect(f), 'Future<running>')
    f.setResult(49)
    assert.equal(inspect(f), 'Future<finished: 49>')
    assert.equal(String(f), 'Future<finished: 49>')
    assert.equal(format('%s', f), 'Future<finished: 49>')
    assert.equal(inspect([f]), '[ Future<finished: 49> ]')
  })

  it('failed: the error class and the first line of its message', () => {
    const f = new Future()
    f.setException(new TypeError('bad input\n  at somewhere'))
    assert.equal(inspect(f), 'Future<failed: TypeError: bad input>')
    const g = new Future()
    g.setException('a string')
    assert.equal(inspect(g), "Future<failed: 'a string'>")
  })

  it('cancelled', () => {
    const f = new Future()
    f.cancel()
    assert.equal(inspect(f), 'Future<cancelled>')
  })

  it('a large value stays on one short line', () => {
    const f = new Future()
    f.setResult({ text: 'x'.repeat(500), list: Array.from({ length: 1000 }, (_, i) => i) })
    const text = inspect(f)
    assert.match(text, /^Future<finished: \{ text: 'x+/)
    assert.ok(!text.includes('\n'), text)
    assert.ok(text.length <= 'Future<finished: >'.length + 80, text)
  })

  it('the Futures of an executor', async () => {
    await using ex = new InlineExecutor()
    const ok = ex.submit(square, 7)
    const bad = ex.submit(failOn, 3, 3)
    await ok
    await bad.exception()
    assert.equal(inspect(ok), 'Future<finished: 49>')
    assert.equal(inspect(bad), 'Future<failed: RangeError: item 3 is bad>')
  })
})

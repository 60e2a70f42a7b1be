// Argument validation: one message template, TypeError vs RangeError, stable codes.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  abortSignal,
  boolean,
  describe as describeValue,
  func,
  knownKeys,
  nonNegativeInteger,
  oneOf,
  optionalTimeout,
  plainObject,
  positiveInteger,
  rangeFail,
  string,
  timeoutMs,
  typeFail,
} from '../../src/internal/validate.js'

type CodedError = Error & { code?: string }

/** Asserts that `fn` throws exactly `cls` with exactly `message` and `code`. */
function throwsExactly(fn: () => unknown, cls: typeof TypeError | typeof RangeError, message: string, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`)
    assert.equal(Object.getPrototypeOf(e), cls.prototype)
    assert.equal(e.message, message)
    assert.equal((e as CodedError).code, code)
    return true
  })
}

const TYPE = 'ERR_MP_INVALID_ARG_TYPE'
const VALUE = 'ERR_MP_INVALID_ARG_VALUE'

describe('validate: the message template', () => {
  it('exactly "Expected `maxWorkers` to be a positive integer, got -1"', () => {
    throwsExactly(() => positiveInteger('maxWorkers', -1), RangeError, 'Expected `maxWorkers` to be a positive integer, got -1', VALUE)
  })

  it('a value of the wrong type is a TypeError, a value out of range a RangeError', () => {
    throwsExactly(() => positiveInteger('maxWorkers', '4'), TypeError, 'Expected `maxWorkers` to be a positive integer, got "4"', TYPE)
    throwsExactly(() => positiveInteger('maxWorkers', 0), RangeError, 'Expected `maxWorkers` to be a positive integer, got 0', VALUE)
    throwsExactly(() => positiveInteger('maxWorkers', 1.5), RangeError, 'Expected `maxWorkers` to be a positive integer, got 1.5', VALUE)
    throwsExactly(() => positiveInteger('maxWorkers', Number.NaN), RangeError, 'Expected `maxWorkers` to be a positive integer, got NaN', VALUE)
    throwsExactly(() => positiveInteger('maxWorkers', Infinity), RangeError, 'Expected `maxWorkers` to be a positive integer, got Infinity', VALUE)
  })

  it('the code is an enumerable own property', () => {
    try {
      positiveInteger('n', -1)
      assert.fail('expected a throw')
    } catch (error) {
      const descriptor = Object.getOwnPropertyDescriptor(error, 'code')
      assert.equal(descriptor?.value, VALUE)
      assert.equal(descriptor?.enumerable, true)
    }
  })

  it('typeFail and rangeFail build the template for any expectation', () => {
    throwsExactly(() => typeFail('size', 'a number', null), TypeError, 'Expected `size` to be a number, got null', TYPE)
    throwsExactly(() => rangeFail('size', 'at most 10', 11), RangeError, 'Expected `size` to be at most 10, got 11', VALUE)
  })
})

describe('validate: describe()', () => {
  it('renders received values short and unambiguous', () => {
    assert.equal(describeValue(-1), '-1')
    assert.equal(describeValue(-0), '-0')
    assert.equal(describeValue('4'), '"4"')
    assert.equal(describeValue(''), '""')
    assert.equal(describeValue(null), 'null')
    assert.equal(describeValue(undefined), 'undefined')
    assert.equal(describeValue(true), 'true')
    assert.equal(describeValue(10n), '10n')
    assert.equal(describeValue(Symbol('s')), 'Symbol(s)')
    assert.equal(describeValue({ a: 1 }), '{ a: 1 }')
    assert.equal(describeValue([1, 2]), '[ 1, 2 ]')
  })

  it('names functions', () => {
    function square(): void {}
    assert.equal(describeValue(square), 'function square')
    assert.equal(describeValue([() => 1][0]), 'an anonymous function')
  })

  it('cuts long strings to 60 characters', () => {
    const long = 'x'.repeat(100)
    assert.equal(describeValue(long), JSON.stringify(`${'x'.repeat(57)}...`))
    assert.equal(describeValue('y'.repeat(60)), JSON.stringify('y'.repeat(60)))
  })

  it('cuts long arrays and deep objects', () => {
    assert.equal(describeValue([1, 2, 3, 4, 5, 6, 7]), '[ 1, 2, 3, 4, 5, ... 2 more items ]')
    assert.equal(describeValue({ a: { b: { c: 1 } } }), '{ a: { b: [Object] } }')
    assert.ok(!describeValue({ s: 'z'.repeat(200) }).includes('z'.repeat(61)))
  })
})

describe('validate: numbers', () => {
  it('positiveInteger accepts 1 and up', () => {
    assert.equal(positiveInteger('n', 1), 1)
    assert.equal(positiveInteger('n', 2 ** 40), 2 ** 40)
  })

  it('nonNegativeInteger accepts 0 and up', () => {
    assert.equal(nonNegativeInteger('n', 0), 0)
    assert.equal(nonNegativeInteger('n', 7), 7)
    throwsExactly(() => nonNegativeInteger('retries', -1), RangeError, 'Expected `retries` to be a non-negative integer, got -1', VALUE)
    throwsExactly(() => nonNegativeInteger('retries', 0.5), RangeError, 'Expected `retries` to be a non-negative integer, got 0.5', VALUE)
    throwsExactly(() => nonNegativeInteger('retries', null), TypeError, 'Expected `retries` to be a non-negative integer, got null', TYPE)
  })

  it('timeoutMs accepts 0, fractions and Infinity', () => {
    assert.equal(timeoutMs('timeout', 0), 0)
    assert.equal(timeoutMs('timeout', 1.5), 1.5)
    assert.equal(timeoutMs('timeout', Infinity), Infinity)
  })

  it('timeoutMs refuses negatives, NaN and non-numbers', () => {
    const expected = 'a number of milliseconds >= 0 (or Infinity)'
    throwsExactly(() => timeoutMs('timeout', -1), RangeError, `Expected \`timeout\` to be ${expected}, got -1`, VALUE)
    throwsExactly(() => timeoutMs('timeout', Number.NaN), RangeError, `Expected \`timeout\` to be ${expected}, got NaN`, VALUE)
    throwsExactly(() => timeoutMs('timeout', -Infinity), RangeError, `Expected \`timeout\` to be ${expected}, got -Infinity`, VALUE)
    throwsExactly(() => timeoutMs('timeout', '100'), TypeError, `Expected \`timeout\` to be ${expected}, got "100"`, TYPE)
  })

  it('timeoutMs without Infinity says so', () => {
    throwsExactly(
      () => timeoutMs('idleTimeout', Infinity, false),
      RangeError,
      'Expected `idleTimeout` to be a finite number of milliseconds >= 0, got Infinity',
      VALUE,
    )
    assert.equal(timeoutMs('idleTimeout', 10, false), 10)
  })

  it('optionalTimeout: undefined and null mean none', () => {
    assert.equal(optionalTimeout('timeout', undefined), undefined)
    assert.equal(optionalTimeout('timeout', null), undefined)
    assert.equal(optionalTimeout('timeout', 5), 5)
    assert.throws(() => optionalTimeout('timeout', -5), RangeError)
  })
})

describe('validate: other kinds', () => {
  it('boolean', () => {
    assert.equal(boolean('wait', false), false)
    throwsExactly(() => boolean('wait', 1), TypeError, 'Expected `wait` to be a boolean, got 1', TYPE)
    throwsExactly(() => boolean('wait', 'true'), TypeError, 'Expected `wait` to be a boolean, got "true"', TYPE)
  })

  it('string', () => {
    assert.equal(string('name', ''), '')
    throwsExactly(() => string('name', 5), TypeError, 'Expected `name` to be a string, got 5', TYPE)
  })

  it('func', () => {
    const fn = (): number => 1
    assert.equal(func('initializer', fn), fn)
    assert.equal(func('initializer', class {}) !== undefined, true, 'a class is a function')
    throwsExactly(() => func('initializer', 'square'), TypeError, 'Expected `initializer` to be a function, got "square"', TYPE)
    throwsExactly(() => func('initializer', { a: 1 }), TypeError, 'Expected `initializer` to be a function, got { a: 1 }', TYPE)
  })

  it('abortSignal: undefined and null mean none', () => {
    const signal = new AbortController().signal
    assert.equal(abortSignal('signal', signal), signal)
    assert.equal(abortSignal('signal', AbortSignal.abort()) instanceof AbortSignal, true)
    assert.equal(abortSignal('signal', undefined), undefined)
    assert.equal(abortSignal('signal', null), undefined)
    throwsExactly(() => abortSignal('signal', new AbortController()), TypeError, 'Expected `signal` to be an AbortSignal, got AbortController { signal: [AbortSignal] }', TYPE)
    assert.throws(() => abortSignal('signal', { aborted: false }), TypeError)
  })

  it('plainObject: undefined and null give {}, arrays and primitives are refused', () => {
    assert.deepEqual(plainObject('options', undefined), {})
    assert.deepEqual(plainObject('options', null), {})
    const options = { a: 1 }
    assert.equal(plainObject('options', options), options)
    throwsExactly(() => plainObject('options', [1]), TypeError, 'Expected `options` to be an options object, got [ 1 ]', TYPE)
    throwsExactly(() => plainObject('options', 5), TypeError, 'Expected `options` to be an options object, got 5', TYPE)
    throwsExactly(() => plainObject('options', 'x'), TypeError, 'Expected `options` to be an options object, got "x"', TYPE)
  })

  it('oneOf: a known string passes; an unknown string is a RangeError, a non-string a TypeError', () => {
    const choices = ['thread', 'process'] as const
    assert.equal(oneOf('backend', 'thread', choices), 'thread')
    throwsExactly(() => oneOf('backend', 'fork', choices), RangeError, "Expected `backend` to be one of 'thread', 'process', got \"fork\"", VALUE)
    throwsExactly(() => oneOf('backend', 1, choices), TypeError, "Expected `backend` to be one of 'thread', 'process', got 1", TYPE)
    throwsExactly(() => oneOf('backend', undefined, choices), TypeError, "Expected `backend` to be one of 'thread', 'process', got undefined", TYPE)
  })
})

describe('validate: knownKeys()', () => {
  it('passes when every key is known, including none', () => {
    assert.doesNotThrow(() => knownKeys('Pool()', {}, ['processes']))
    assert.doesNotThrow(() => knownKeys('Pool()', { processes: 2 }, ['processes', 'initializer']))
    assert.doesNotThrow(() => knownKeys('Pool()', { processes: undefined }, ['processes']))
  })

  it('refuses the first unknown key with a RangeError listing the known ones', () => {
    throwsExactly(
      () => knownKeys('ThreadPoolExecutor()', { maxWorkers: 2, maxWorker: 3 }, ['maxWorkers', 'initializer']),
      RangeError,
      'Unknown option `maxWorker` for ThreadPoolExecutor(); expected one of `maxWorkers`, `initializer`',
      'ERR_MP_UNKNOWN_OPTION',
    )
  })

  it('ignores symbol keys and inherited keys', () => {
    const options = Object.create({ inherited: 1 }) as Record<string, unknown>
    options.known = 1
    ;(options as Record<symbol, unknown>)[Symbol('x')] = 1
    assert.doesNotThrow(() => knownKeys('f()', options, ['known']))
  })
})

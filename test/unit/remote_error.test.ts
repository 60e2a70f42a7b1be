// serializeError / deserializeError: errors rebuilt faithfully across a
// structured clone, as they travel between a worker and its caller.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runInNewContext } from 'node:vm'
import { fileURLToPath } from 'node:url'
import {
  deserializeError,
  isSerializedError,
  registerError,
  serializeError,
  type ErrorOrigin,
  type SerializedError,
  type SerializedValue,
} from '../../src/wire/remote_error.js'
import {
  BrokenExecutorError,
  CancelledError,
  InvalidStateError,
  MultiprocError,
  RemoteError,
  SerializationError,
  PayloadTooLargeError,
  TaskNotFoundError,
  TimeoutError,
  WorkerCrashedError,
} from '../../src/errors.js'

/** What the caller gets for `thrown` in a worker: serialize, clone (the wire), deserialize. */
function roundTrip(thrown: unknown, origin?: ErrorOrigin): any {
  const wire = structuredClone(serializeError(thrown))
  return deserializeError(wire, origin)
}

function asError(value: SerializedValue): SerializedError {
  assert.equal(value.$, 'mp-error')
  return value as SerializedError
}

describe('remote errors: built-in classes', () => {
  const builtins = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]
  for (const cls of builtins) {
    it(`${cls.name} keeps its class, name and message`, () => {
      const original = new cls('what happened')
      const back = roundTrip(original)
      assert.ok(back instanceof cls)
      assert.ok(back instanceof Error)
      assert.equal(Object.getPrototypeOf(back), cls.prototype)
      assert.equal(back.name, cls.name)
      assert.equal(back.message, 'what happened')
      assert.equal(String(back), `${cls.name}: what happened`)
    })
  }

  it('message, stack and cause are not enumerable, like on a native error', () => {
    const back = roundTrip(new Error('x', { cause: 1 }))
    assert.deepEqual(Object.keys(back), [])
    assert.ok(Object.prototype.hasOwnProperty.call(back, 'message'))
    assert.ok(Object.prototype.hasOwnProperty.call(back, 'stack'))
    assert.ok(Object.prototype.hasOwnProperty.call(back, 'cause'))
  })

  it("keeps the worker's stack", () => {
    const original = new TypeError('deep')
    const back = roundTrip(original)
    assert.equal(back.stack, original.stack)
  })

  it('an error without a stack gets "name: message"', () => {
    const original = new RangeError('no stack')
    Object.defineProperty(original, 'stack', { value: undefined })
    const back = roundTrip(original)
    assert.equal(back.stack, 'RangeError: no stack')
  })

  it('an empty message', () => {
    const back = roundTrip(new Error())
    assert.equal(back.message, '')
  })

  it('a custom name on a built-in class is kept', () => {
    const original = new Error('x')
    original.name = 'ValidationFailure'
    const back = roundTrip(original)
    assert.ok(back instanceof Error)
    assert.equal(back.name, 'ValidationFailure')
  })

  it('an error from another realm (vm context) is rebuilt as this realm’s class', () => {
    const foreign = runInNewContext('new TypeError("from elsewhere")') as unknown
    assert.equal(foreign instanceof Error, false)
    const back = roundTrip(foreign)
    assert.ok(back instanceof TypeError)
    assert.equal(back.message, 'from elsewhere')
  })
})

describe('remote errors: AggregateError', () => {
  it('keeps its errors, each rebuilt, including non-errors', () => {
    const original = new AggregateError([new TypeError('first'), new RangeError('second'), 'a string', { code: 7 }], 'several failed')
    const back = roundTrip(original)
    assert.ok(back instanceof AggregateError)
    assert.equal(back.message, 'several failed')
    assert.equal(back.errors.length, 4)
    assert.ok(back.errors[0] instanceof TypeError)
    assert.equal(back.errors[0].message, 'first')
    assert.ok(back.errors[1] instanceof RangeError)
    assert.equal(back.errors[2], 'a string')
    assert.deepEqual(back.errors[3], { code: 7 })
    assert.equal(Object.getOwnPropertyDescriptor(back, 'errors')?.enumerable, false)
  })

  it('an empty errors list', () => {
    const back = roundTrip(new AggregateError([], 'none'))
    assert.ok(back instanceof AggregateError)
    assert.deepEqual(back.errors, [])
  })

  it('nested AggregateErrors', () => {
    const back = roundTrip(new AggregateError([new AggregateError([new Error('leaf')], 'inner')], 'outer'))
    assert.ok(back.errors[0] instanceof AggregateError)
    assert.equal(back.errors[0].errors[0].message, 'leaf')
  })

  it('an AggregateError containing itself does not hang', () => {
    const original = new AggregateError([], 'self')
    ;(original as AggregateError & { errors: unknown[] }).errors.push(original)
    const back = roundTrip(original)
    assert.ok(back instanceof AggregateError)
    let depth = 0
    let current = back
    while (current?.errors?.length > 0 && depth < 100) {
      current = current.errors[0]
      depth++
    }
    assert.ok(depth < 100, `bounded depth, got ${depth}`)
  })
})

describe('remote errors: cause chains', () => {
  it('a chain of errors keeps every class and message', () => {
    const root = new RangeError('root')
    const mid = new TypeError('mid', { cause: root })
    const top = new Error('top', { cause: mid })
    const back = roundTrip(top)
    assert.ok(back instanceof Error)
    assert.ok(back.cause instanceof TypeError)
    assert.equal(back.cause.message, 'mid')
    assert.ok(back.cause.cause instanceof RangeError)
    assert.equal(back.cause.cause.message, 'root')
    assert.equal('cause' in back.cause.cause, false)
  })

  it('a cause that is not an Error comes back as the same value', () => {
    assert.equal(roundTrip(new Error('x', { cause: 'because' })).cause, 'because')
    assert.equal(roundTrip(new Error('x', { cause: 42 })).cause, 42)
    assert.deepEqual(roundTrip(new Error('x', { cause: { code: 'E1', list: [1, 2] } })).cause, { code: 'E1', list: [1, 2] })
    assert.equal(roundTrip(new Error('x', { cause: null })).cause, null)
  })

  it('an explicit cause of undefined is kept as present-but-undefined', () => {
    const back = roundTrip(new Error('x', { cause: undefined }))
    assert.equal('cause' in back, true)
    assert.equal(back.cause, undefined)
  })

  it('no cause stays no cause', () => {
    const back = roundTrip(new Error('x'))
    assert.equal('cause' in back, false)
  })

  it('an uncloneable cause becomes its string form', () => {
    const back = roundTrip(new Error('x', { cause: () => 1 }))
    assert.equal(typeof back.cause, 'string')
  })

  it('a cyclic cause (err.cause = err) does not hang and stays bounded', () => {
    const original = new Error('loop') as Error & { cause: unknown }
    original.cause = original
    const serialized = serializeError(original)
    const back = deserializeError(structuredClone(serialized)) as Error
    let depth = 0
    let current: unknown = back
    while (current instanceof Error && 'cause' in current && depth < 1000) {
      current = current.cause
      depth++
    }
    assert.ok(depth > 0 && depth < 1000, `bounded, got ${depth}`)
    assert.equal(back.message, 'loop')
    assert.equal((back.cause as Error).message, 'loop')
  })

  it('a two-error cycle does not hang', () => {
    const a = new Error('a') as Error & { cause: unknown }
    const b = new Error('b', { cause: a })
    a.cause = b
    const back = roundTrip(a)
    assert.equal(back.cause.message, 'b')
    assert.equal(back.cause.cause.message, 'a')
  })

  it('a cause that is a multiproc error keeps its class and code', () => {
    const back = roundTrip(new Error('outer', { cause: new TimeoutError('too slow') }))
    assert.ok(back.cause instanceof TimeoutError)
    assert.equal(back.cause.code, 'ERR_MP_TIMEOUT')
  })
})

describe('remote errors: own properties', () => {
  it('code, errno, syscall, path and user properties survive', () => {
    const original = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), {
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
      path: '/x',
      details: { attempt: 3, tags: ['a', 'b'] },
      when: new Date(0),
      big: 10n,
    })
    const back = roundTrip(original)
    assert.equal(back.code, 'ENOENT')
    assert.equal(back.errno, -2)
    assert.equal(back.syscall, 'open')
    assert.equal(back.path, '/x')
    assert.deepEqual(back.details, { attempt: 3, tags: ['a', 'b'] })
    assert.ok(back.when instanceof Date)
    assert.equal(back.when.getTime(), 0)
    assert.equal(back.big, 10n)
  })

  it('a real system error from fs keeps code, errno and syscall', async () => {
    const { readFileSync } = await import('node:fs')
    let original: unknown
    try {
      readFileSync('/definitely/not/here/multiproc')
    } catch (error) {
      original = error
    }
    const back: NodeJS.ErrnoException = roundTrip(original)
    assert.ok(back instanceof Error)
    assert.equal(back.code, 'ENOENT')
    assert.equal(back.errno, (original as NodeJS.ErrnoException).errno)
    assert.equal(back.syscall, 'open')
  })

  it('uncloneable properties become a "[not cloneable: …]" string', () => {
    const original = Object.assign(new Error('x'), {
      fn: function callback() {},
      weak: new WeakMap(),
      sym: Symbol('s'),
      nested: { handler: () => 1 },
      fine: 'kept',
    })
    const back = roundTrip(original)
    assert.equal(back.fn, '[not cloneable: function]')
    assert.equal(back.weak, '[not cloneable: [object WeakMap]]')
    assert.equal(back.sym, '[not cloneable: [object Symbol]]')
    assert.equal(back.nested, '[not cloneable: [object Object]]')
    assert.equal(back.fine, 'kept')
  })

  it('a property whose getter throws is skipped', () => {
    const original = new Error('x')
    Object.defineProperty(original, 'trap', {
      enumerable: true,
      get() {
        throw new Error('do not read me')
      },
    })
    Object.defineProperty(original, 'ok', { enumerable: true, value: 1 })
    const back = roundTrip(original)
    assert.equal('trap' in back, false)
    assert.equal(back.ok, 1)
  })

  it('non-enumerable properties are not sent', () => {
    const original = new Error('x')
    Object.defineProperty(original, 'secret', { enumerable: false, value: 's' })
    assert.equal('secret' in roundTrip(original), false)
  })

  it('an Error-valued property comes back as an Error', () => {
    const back = roundTrip(Object.assign(new Error('outer'), { original: new TypeError('inner') }))
    assert.ok(back.original instanceof TypeError)
    assert.equal(back.original.message, 'inner')
  })

  it('an `errors` array on a non-AggregateError survives', () => {
    const back = roundTrip(Object.assign(new Error('v'), { errors: ['a', 'b'] }))
    assert.deepEqual(back.errors, ['a', 'b'])
  })

  it(
    'an `errors` property that is not an array survives (validation errors)',
    () => {
      const back = roundTrip(Object.assign(new Error('validation failed'), { errors: { email: 'required' } }))
      assert.deepEqual(back.errors, { email: 'required' })
    },
  )

  it('the serialized form is cloneable as is', () => {
    const original = Object.assign(new AggregateError([new Error('a')], 'agg', { cause: new Error('c') }), { fn: () => 1, code: 'X' })
    assert.doesNotThrow(() => structuredClone(serializeError(original)))
  })
})

describe('remote errors: multiproc errors', () => {
  it('every class is rebuilt with its code', () => {
    const cases: [Error, Function, string][] = [
      [new CancelledError(), CancelledError, 'ERR_MP_CANCELLED'],
      [new TimeoutError(), TimeoutError, 'ERR_MP_TIMEOUT'],
      [new InvalidStateError('bad state'), InvalidStateError, 'ERR_MP_INVALID_STATE'],
      [new BrokenExecutorError('shut down'), BrokenExecutorError, 'ERR_MP_BROKEN_EXECUTOR'],
      [new TaskNotFoundError('no such export'), TaskNotFoundError, 'ERR_MP_TASK_NOT_FOUND'],
      [new MultiprocError('base', 'ERR_MP_SOMETHING'), MultiprocError, 'ERR_MP_SOMETHING'],
    ]
    for (const [original, cls, code] of cases) {
      const back = roundTrip(original)
      assert.ok(back instanceof cls, cls.name)
      assert.ok(back instanceof MultiprocError)
      assert.equal(back.code, code)
      assert.equal(back.name, cls.name)
      assert.equal(back.message, original.message)
    }
  })

  it('WorkerCrashedError and SerializationError keep their details', () => {
    const crash = roundTrip(new WorkerCrashedError('died', { workerId: 'thread 3', exitCode: -9, signal: 'SIGKILL', task: 'square (tasks.ts)' }))
    assert.ok(crash instanceof WorkerCrashedError)
    assert.equal(crash.workerId, 'thread 3')
    assert.equal(crash.exitCode, -9)
    assert.equal(crash.signal, 'SIGKILL')
    assert.equal(crash.task, 'square (tasks.ts)')

    const ser = roundTrip(new SerializationError('cannot send', { argIndex: 1, path: 'args[1].f', reason: 'a function' }))
    assert.ok(ser instanceof SerializationError)
    assert.equal(ser.argIndex, 1)
    assert.equal(ser.path, 'args[1].f')
    assert.equal(ser.reason, 'a function')

    const big = roundTrip(new PayloadTooLargeError('too large', { argIndex: -1, path: 'result', reason: '3 bytes, over 2', size: 3, limit: 2, option: 'maxPayloadSize' }))
    assert.ok(big instanceof PayloadTooLargeError && big instanceof SerializationError)
    assert.equal(big.name, 'PayloadTooLargeError')
    assert.equal(big.code, 'ERR_MP_SERIALIZATION')
    assert.deepEqual([big.size, big.limit, big.option, big.path], [3, 2, 'maxPayloadSize', 'result'])
  })

  it('a RemoteError that travels again stays a RemoteError with its remote name', () => {
    class Unregistered extends Error {}
    const first = roundTrip(new Unregistered('x'))
    const second = roundTrip(first)
    assert.ok(second instanceof RemoteError)
    assert.equal(second.name, 'Unregistered')
    assert.equal(second.message, 'x')
  })
})

describe('remote errors: user classes', () => {
  let constructed = 0
  class QuotaError extends Error {
    readonly limit: number
    constructor(limit: number) {
      super(`over quota ${limit}`)
      constructed++
      this.limit = limit
    }
    describe(): string {
      return `limit=${this.limit}`
    }
  }
  registerError(QuotaError)

  it('a registered class is rebuilt as itself, without calling its constructor', () => {
    const original = new QuotaError(5)
    const before = constructed
    const back = roundTrip(original)
    assert.equal(constructed, before, 'constructor not called')
    assert.ok(back instanceof QuotaError)
    assert.ok(back instanceof Error)
    assert.equal(back.limit, 5)
    assert.equal(back.message, 'over quota 5')
    assert.equal(back.describe(), 'limit=5', 'prototype methods work')
    assert.equal(back.name, 'Error', 'name comes from Error.prototype, as on the original')
  })

  it('a registered subclass that sets its name keeps it', () => {
    class NamedError extends Error {
      constructor(message: string) {
        super(message)
        this.name = 'NamedError'
      }
    }
    registerError(NamedError)
    const back = roundTrip(new NamedError('n'))
    assert.ok(back instanceof NamedError)
    assert.equal(back.name, 'NamedError')
  })

  it('a class registered under another name is found by that name', () => {
    class Internal extends Error {}
    registerError(Internal, 'PublicName')
    const wire: SerializedError = { $: 'mp-error', cls: 'PublicName', name: 'Error', message: 'm', stack: undefined, hasCause: false, props: {} }
    assert.ok(deserializeError(wire) instanceof Internal)
  })

  it('a minified constructor name falls back to the error name', () => {
    class Minified extends Error {}
    Object.defineProperty(Minified.prototype, 'name', { value: 'Minified' })
    registerError(Minified)
    const wire: SerializedError = { $: 'mp-error', cls: 'a', name: 'Minified', message: 'm', stack: undefined, hasCause: false, props: {} }
    const back = deserializeError(wire)
    assert.ok(back instanceof Minified)
  })

  it('an unknown class becomes a RemoteError that keeps the original name', () => {
    class NotRegistered extends Error {
      constructor(public readonly detail: string) {
        super('not known in the caller')
      }
    }
    const back = roundTrip(new NotRegistered('d'))
    assert.ok(back instanceof RemoteError)
    assert.ok(back instanceof MultiprocError)
    assert.ok(back instanceof Error)
    assert.equal(back.remoteName, 'NotRegistered')
    assert.equal(back.name, 'NotRegistered')
    assert.equal(back.code, 'ERR_MP_REMOTE')
    assert.equal(back.message, 'not known in the caller')
    assert.equal((back as unknown as NotRegistered).detail, 'd')
    assert.equal(String(back), 'NotRegistered: not known in the caller')
  })

  it('an unknown class with its own name: name is kept, remoteName is the class', () => {
    class Cls extends Error {
      constructor() {
        super('m')
        this.name = 'FriendlyName'
      }
    }
    const back = roundTrip(new Cls())
    assert.ok(back instanceof RemoteError)
    assert.equal(back.name, 'FriendlyName')
    assert.equal(back.remoteName, 'Cls')
  })

  it("an unknown class's own code wins over ERR_MP_REMOTE", () => {
    class Coded extends Error {
      code = 'E_APP'
    }
    const back = roundTrip(new Coded('c'))
    assert.ok(back instanceof RemoteError)
    assert.equal(back.code, 'E_APP')
  })

  it('registerError refuses what is not an Error class, with a TypeError', () => {
    const cases: [unknown, RegExp][] = [
      [123, /^Expected `cls` to be an Error class, got 123$/],
      [class NotAnError {}, /^Expected `cls` to be an Error class, got function NotAnError$/],
      [() => new Error('x'), /^Expected `cls` to be an Error class, got function /],
      [{}, /^Expected `cls` to be an Error class/],
    ]
    for (const [bad, message] of cases) {
      assert.throws(
        () => registerError(bad as never),
        (e: unknown) => e instanceof TypeError && message.test(e.message) && (e as TypeError & { code: string }).code === 'ERR_MP_INVALID_ARG_TYPE',
        String(bad),
      )
    }
    assert.throws(() => registerError(QuotaError, ''), (e: unknown) => e instanceof TypeError && /`name`/.test(e.message))
    assert.throws(() => registerError(QuotaError, 5 as never), TypeError)
  })

  it(
    'registerError(undefined) and registerError(null) get the same TypeError',
    () => {
      for (const bad of [undefined, null]) {
        assert.throws(
          () => registerError(bad as never),
          (e: unknown) =>
            e instanceof TypeError &&
            e.message === `Expected \`cls\` to be an Error class, got ${String(bad)}` &&
            (e as TypeError & { code?: string }).code === 'ERR_MP_INVALID_ARG_TYPE',
        )
      }
    },
  )

  it('registerError accepts Error itself', () => {
    assert.doesNotThrow(() => registerError(Error))
  })
})

describe('remote errors: thrown non-errors', () => {
  it('primitives and plain data come back as the same value', () => {
    assert.equal(roundTrip('oops'), 'oops')
    assert.equal(roundTrip(42), 42)
    assert.equal(roundTrip(0), 0)
    assert.equal(roundTrip(false), false)
    assert.equal(roundTrip(null), null)
    assert.equal(roundTrip(undefined), undefined)
    assert.equal(roundTrip(5n), 5n)
    assert.deepEqual(roundTrip({ reason: 'bad', items: [1, 2] }), { reason: 'bad', items: [1, 2] })
    assert.deepEqual(roundTrip(['a']), ['a'])
  })

  it('uncloneable thrown values become their string form', () => {
    assert.equal(roundTrip(Symbol('sym')), 'Symbol(sym)')
    assert.equal(typeof roundTrip(function thrown() {}), 'string')
    assert.equal(roundTrip({ fn: () => 1 }), '[object Object]')
  })

  it('serializes to the mp-thrown shape', () => {
    assert.deepEqual(serializeError('x'), { $: 'mp-thrown', value: 'x' })
    assert.deepEqual(serializeError(undefined), { $: 'mp-thrown', value: undefined })
  })

  it('an origin does not change a thrown non-error', () => {
    assert.equal(roundTrip('plain', { task: 't', worker: 'w' }), 'plain')
  })
})

describe('remote errors: DOMException', () => {
  it('keeps its class, name, message and the code derived from the name', () => {
    const back = roundTrip(new DOMException('The operation was aborted', 'AbortError'))
    assert.ok(back instanceof DOMException)
    assert.ok(back instanceof Error)
    assert.equal(back.name, 'AbortError')
    assert.equal(back.message, 'The operation was aborted')
    assert.equal(back.code, 20)
  })

  it('a DataCloneError from structuredClone', () => {
    let original: unknown
    try {
      structuredClone(() => 1)
    } catch (error) {
      original = error
    }
    const back = roundTrip(original)
    assert.ok(back instanceof DOMException)
    assert.equal(back.name, 'DataCloneError')
    assert.equal(back.code, 25)
  })
})

describe('remote errors: the stack seen by the caller', () => {
  const workerStack = 'TypeError: bad input\n    at square (file:///app/tasks.js:3:9)\n    at run (file:///app/lib.js:10:3)'

  function withStack(stack: string): Error {
    const error = new TypeError('bad input')
    Object.defineProperty(error, 'stack', { value: stack, writable: true, configurable: true })
    return error
  }

  it('adds a line naming the task and the worker, then the caller frames', () => {
    const callerStack = 'Error\n    at submit (file:///app/main.js:5:12)\n    at main (file:///app/main.js:9:1)'
    const back = roundTrip(withStack(workerStack), { task: 'square (tasks.js)', worker: 'thread worker 2', callerStack })
    assert.equal(
      back.stack,
      `${workerStack}\n    at <multiproc> task square (tasks.js) in thread worker 2\n    at submit (file:///app/main.js:5:12)\n    at main (file:///app/main.js:9:1)`,
    )
  })

  it('with only a task, or only a worker', () => {
    assert.equal(roundTrip(withStack(workerStack), { task: 'square (tasks.js)' }).stack, `${workerStack}\n    at <multiproc> task square (tasks.js)`)
    assert.equal(roundTrip(withStack(workerStack), { worker: 'thread worker 1' }).stack, `${workerStack}\n    at <multiproc> in thread worker 1`)
  })

  it('no origin: the stack is the worker stack alone', () => {
    assert.equal(roundTrip(withStack(workerStack)).stack, workerStack)
    assert.equal(roundTrip(withStack(workerStack), {}).stack, workerStack)
  })

  it('a caller stack without frames adds nothing after the line', () => {
    const back = roundTrip(withStack(workerStack), { task: 't', callerStack: 'Error: no frames here' })
    assert.equal(back.stack, `${workerStack}\n    at <multiproc> task t`)
  })

  it('causes do not get the line', () => {
    const top = new Error('top', { cause: withStack(workerStack) })
    const back = roundTrip(top, { task: 't', worker: 'w' })
    assert.match(back.stack, /at <multiproc> task t in w/)
    assert.equal(back.cause.stack, workerStack)
  })

  it("drops frames of multiproc's own worker runtime", () => {
    const workerDir = fileURLToPath(new URL('../../src/worker/', import.meta.url))
    const stack =
      'Error: x\n' +
      '    at task (file:///app/tasks.js:1:1)\n' +
      `    at runTask (${workerDir}runtime.ts:100:5)\n` +
      `    at loop (${workerDir}bootstrap.ts:20:3)\n` +
      '    at user (file:///app/other.js:2:2)'
    const serialized = asError(serializeError(withStack(stack)))
    assert.equal(serialized.stack, 'Error: x\n    at task (file:///app/tasks.js:1:1)\n    at user (file:///app/other.js:2:2)')
  })
})

describe('remote errors: the serialized shape', () => {
  it('names the class, the name and says whether there is a cause', () => {
    const s = asError(serializeError(new RangeError('r', { cause: 'c' })))
    assert.equal(s.cls, 'RangeError')
    assert.equal(s.name, 'RangeError')
    assert.equal(s.message, 'r')
    assert.equal(s.hasCause, true)
    assert.deepEqual(s.cause, { $: 'mp-thrown', value: 'c' })
    assert.deepEqual(s.props, {})
    assert.equal(asError(serializeError(new Error('e'))).hasCause, false)
  })

  it('a hostile error whose message and constructor throw still serializes', () => {
    const hostile = new Error('x')
    Object.defineProperty(hostile, 'message', {
      get() {
        throw new Error('no')
      },
    })
    Object.defineProperty(hostile, 'constructor', {
      get() {
        throw new Error('no')
      },
    })
    const s = asError(serializeError(hostile))
    assert.equal(s.message, '')
    assert.equal(s.cls, 'Error')
    assert.ok(roundTrip(hostile) instanceof Error)
  })

  it('isSerializedError recognises both shapes and nothing else', () => {
    assert.equal(isSerializedError(serializeError(new Error('x'))), true)
    assert.equal(isSerializedError(serializeError('x')), true)
    for (const other of [null, undefined, 'mp-error', {}, { $: 'other' }, new Error('x'), [1]]) {
      assert.equal(isSerializedError(other), false, String(other))
    }
  })
})

// submit(): values, task references and faithful errors, on every backend.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  RemoteError,
  SerializationError,
  TaskNotFoundError,
  TaskImportError,
  registerError,
  task,
  tasks,
} from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { triple, aliased } from '../fixtures/plain.mjs'
import negate from '../fixtures/plain.mjs'
import { createRequire } from 'node:module'
import { Socket } from 'node:net'

const require = createRequire(import.meta.url)
const cjs = require('../fixtures/cjs_tasks.cjs') as { double: (x: number) => number; half: (x: number) => number }
import { backends } from './backends.js'
import { collect, rejection, tasksModule, fixtures } from '../helpers.js'

registerError(T.QuotaError)

for (const backend of backends()) {
  describe(`submit [${backend.name}]`, () => {
    const ex = backend.create()
    after(() => ex.shutdown())

    it('returns the result of an exported function', async () => {
      assert.equal(await ex.submit(T.square, 7), 49)
      assert.equal(await ex.submit(T.add, 2, 3), 5)
    })

    it('awaits an async task', async () => {
      assert.equal(await ex.submit(T.slowSquare, 6, 5), 36)
    })

    it('result() and exception() report the outcome', async () => {
      const ok = ex.submit(T.square, 3)
      assert.equal(await ok.result({ timeout: 10_000 }), 9)
      assert.equal(await ok.exception(), undefined)
      assert.equal(ok.state, 'FINISHED')
      const bad = ex.submit(T.throwError, 'RangeError', 'nope')
      const error = await bad.exception()
      assert.ok(error instanceof RangeError)
      assert.equal((error as Error).message, 'nope')
    })

    it('round-trips structured-clone values', async () => {
      const value = {
        map: new Map([[1, 'a']]),
        set: new Set([1, 2]),
        date: new Date('2026-01-02T03:04:05.000Z'),
        big: 2n ** 70n,
        typed: new Float64Array([1.5, 2.5]),
        nested: [{ deep: [null, undefined, 'x'] }],
        regexp: /a+b/gi,
      }
      const back = await ex.submit(T.identity, value)
      assert.deepEqual(back, value)
      assert.notEqual(back, value, 'a copy, not the same object')
      assert.equal(await ex.submit(T.describeValue, new Map([[1, 2]])), 'Map(1)')
      assert.equal(await ex.submit(T.describeValue, new Uint16Array(5)), 'Uint16Array(5)')
    })

    it('accepts JavaScript modules, default exports and aliased exports', async () => {
      assert.equal(await ex.submit(triple, 5), 15)
      assert.equal(await ex.submit(negate, 5), -5)
      assert.equal(await ex.submit(aliased, 'same'), 'same')
    })

    it('accepts CommonJS modules, including anonymous exported functions', async () => {
      assert.equal(await ex.submit(cjs.double, 21), 42)
      assert.equal(cjs.half.name, '', 'the export itself has no name')
      assert.equal(await ex.submit(cjs.half, 5), 2.5)
    })

    it('accepts a typed reference without importing the module', async () => {
      const t = tasks<typeof import('../fixtures/tasks.js')>(tasksModule)
      assert.equal(await ex.submit(t.square, 12), 144)
      const addRef = task<typeof T.add>(tasksModule, 'add')
      assert.equal(await ex.submit(addRef, 40, 2), 42)
      assert.equal(await ex.submit(task(new URL('plain.mjs', fixtures), 'default'), 1), -1)
    })

    it('fails with TaskNotFoundError for a missing export', async () => {
      const error = await rejection(ex.submit(task(tasksModule, 'doesNotExist')))
      assert.ok(error instanceof TaskNotFoundError, String(error))
      assert.match(error.message, /no export named `doesNotExist`/)
      assert.match(error.message, /square/, 'lists the exported functions')
    })

    it('reports a module that fails to import as TaskImportError, its error as cause with the worker stack', async () => {
      const error = await rejection(ex.submit(task(new URL('broken_module.ts', fixtures), 'never')))
      assert.ok(error instanceof TaskImportError, String(error))
      assert.equal((error.cause as Error).message, 'this module fails to import')
      assert.match(String((error.cause as Error).stack), /broken_module\.ts/)
    })

    it('refuses a closure synchronously with a TypeError that says how to fix it', () => {
      const factor = 3
      const closure = (x: number) => x * factor
      assert.throws(() => ex.submit(closure as any, 1), (e: any) => {
        assert.ok(e instanceof TypeError)
        assert.equal((e as any).code, 'ERR_MP_UNREFERENCEABLE_TASK')
        assert.match(e.message, /closure/)
        assert.match(e.message, /entry module|export/)
        return true
      })
    })

    it('refuses built-in and bound functions', () => {
      assert.throws(() => ex.submit(Math.max as any), /built-in function/)
      assert.throws(() => ex.submit(T.square.bind(null) as any, 1), /bound function/)
      assert.throws(() => ex.submit(42 as any), TypeError)
    })

    it('refuses an argument that cannot be cloned, synchronously, and nothing else is affected', async () => {
      const before = ex.submit(T.square, 2)
      assert.throws(
        () => ex.submit(T.identity, { ok: 1, nested: { cb: () => 1 } }),
        (e: any) => {
          assert.ok(e instanceof SerializationError)
          assert.equal(e.argIndex, 0)
          assert.equal(e.path, 'args[0].nested.cb')
          assert.match(e.message, /is a function/)
          return true
        },
      )
      assert.throws(() => ex.submit(T.add, 1, Symbol('s') as never), (e: any) => e instanceof SerializationError && e.argIndex === 1)
      assert.throws(() => ex.submit(T.identity, Promise.resolve(1)), /Promise/)
      const socket = new Socket()
      assert.throws(() => ex.submit(T.identity, { socket }), (e: any) => e instanceof SerializationError && e.path === 'args[0].socket')
      socket.destroy()
      assert.equal(await before, 4)
      assert.equal(await ex.submit(T.square, 3), 9)
    })

    if (!backend.sharedMemory) {
      it('refuses a SharedArrayBuffer: it could only arrive as a copy', async () => {
        const shared = new Int32Array(new SharedArrayBuffer(8))
        assert.throws(
          () => ex.submit(T.identity, { counters: shared }),
          (e: any) => e instanceof SerializationError && e.path === 'args[0].counters' && /SharedArrayBuffer/.test(e.message),
        )
        await assert.rejects(collect(ex.map(T.identity, [new SharedArrayBuffer(4)])), SerializationError)
      })
    }

    it('fails the Future when the result cannot be sent back', async () => {
      const error = await rejection(ex.submit(T.returnFunction))
      assert.ok(error instanceof SerializationError, String(error))
      assert.match(error.message, /result/)
    })

    describe('errors keep their class, message, properties, cause and stack', () => {
      for (const kind of ['TypeError', 'RangeError', 'SyntaxError']) {
        it(kind, async () => {
          const error = await rejection(ex.submit(T.throwError, kind, `a ${kind}`))
          assert.equal(error.constructor.name, kind)
          assert.equal(error.message, `a ${kind}`)
          assert.match(String(error.stack), /throwError/, 'the worker frames')
          assert.match(String(error.stack), /tasks\.ts/)
          assert.match(String(error.stack), /<multiproc> task throwError \(tasks\.ts\) in \w+ worker/)
        })
      }

      it('with MULTIPROC_CALLER_STACKS=1, the frames of the code that called submit()', async () => {
        const saved = process.env.MULTIPROC_CALLER_STACKS
        process.env.MULTIPROC_CALLER_STACKS = '1'
        const traced = backend.create()
        try {
          const submittedHere = () => rejection(traced.submit(T.throwError, 'TypeError', 'traced'))
          const error = await submittedHere()
          assert.match(String(error.stack), /<multiproc> task throwError/)
          assert.match(String(error.stack), /submittedHere/, "the caller's frame follows the worker's")
        } finally {
          if (saved === undefined) delete process.env.MULTIPROC_CALLER_STACKS
          else process.env.MULTIPROC_CALLER_STACKS = saved
          await traced.shutdown()
        }
      })

      it('AggregateError with its errors', async () => {
        const error = await rejection(ex.submit(T.throwError, 'Aggregate', 'many'))
        assert.ok(error instanceof AggregateError)
        assert.equal(error.errors.length, 2)
        assert.ok(error.errors[0] instanceof TypeError)
        assert.ok(error.errors[1] instanceof RangeError)
        assert.equal(error.errors[1].message, 'second')
      })

      it('a registered user class, with its own properties', async () => {
        const error = await rejection(ex.submit(T.throwError, 'Quota', 'over'))
        assert.ok(error instanceof T.QuotaError)
        assert.equal(error.limit, 42)
        assert.equal(error.name, 'QuotaError')
      })

      it('an unregistered class becomes a RemoteError with the original name', async () => {
        const error = await rejection(ex.submit(T.throwError, 'Unregistered', 'who'))
        assert.ok(error instanceof RemoteError)
        assert.equal(error.name, 'UnregisteredError')
        assert.equal(error.remoteName, 'UnregisteredError')
        assert.deepEqual((error as any).detail, { id: 7 })
      })

      it('the cause chain', async () => {
        const error = await rejection(ex.submit(T.throwError, 'WithCause', 'top'))
        assert.equal(error.message, 'top')
        assert.ok(error.cause instanceof TypeError)
        assert.equal(error.cause.message, 'root cause')
        assert.equal(error.cause.cause, 'deepest')
      })

      it('own properties such as code, and a note for the ones that cannot travel', async () => {
        const error = await rejection(ex.submit(T.throwError, 'WithProps', 'props'))
        assert.equal(error.code, 'E_CUSTOM')
        assert.equal(error.errno, -2)
        assert.match(error.fn, /not cloneable: function/)
      })

      it('thrown non-errors come back as the same value', async () => {
        assert.equal(await rejection(ex.submit(T.throwError, 'String', 'plain string')), 'plain string')
        assert.deepEqual(await rejection(ex.submit(T.throwError, 'Object', 'obj')), { reason: 'obj' })
      })

      it('DOMException', async () => {
        const error = await rejection(ex.submit(T.throwError, 'Abort', 'stopped'))
        assert.ok(error instanceof DOMException)
        assert.equal(error.name, 'AbortError')
      })
    })

    it('moves buffers listed in `transfer` and gets transferred results back', async () => {
      const buffer = new ArrayBuffer(1024)
      const f = ex.submitWith({ transfer: [buffer] }, T.fillBuffer, buffer, 5)
      assert.equal(buffer.byteLength, 0, 'detached in the caller: moved, not copied')
      assert.equal(await f, 1024)
      const made = await ex.submit(T.makeBuffer, 2048)
      assert.ok(made instanceof Uint8Array)
      assert.equal(made.length, 2048)
      assert.equal(made[2047], 9)
    })

    it('detaches each moved buffer at submit, whether its task is sent at once or waits in the queue', async () => {
      const buffers = Array.from({ length: 12 }, () => new ArrayBuffer(256))
      const futures = buffers.map((buffer) => ex.submitWith({ transfer: [buffer] }, T.fillBuffer, buffer, 3))
      for (const buffer of buffers) assert.equal(buffer.byteLength, 0, 'detached in the caller at submit')
      assert.deepEqual(await Promise.all(futures), buffers.map(() => 256))
    })
  })
}

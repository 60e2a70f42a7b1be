// Tasks by reference: task()/tasks(), normalizeModule() and resolveTask().
//
// resolveTask() confirms the export name of a function by scanning its
// module's namespace; the first time a module is seen that happens
// asynchronously (`verified` is a Promise). Each fixture module below is
// therefore used for one purpose only, so that what is "first sight" does not
// depend on the order of the tests:
//   refs.ts        the namespace is loaded first (see `loadRefs`), then used synchronously
//   refs_alias.ts  first sight of a module whose exports have other names
//   refs_fresh.ts  first sight of a module for a function it does not export
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { pathToFileURL } from 'node:url'
import { isTaskRef, normalizeModule, resolveTask, task, tasks, type ResolvedTask, type TaskRef } from '../../src/task_ref.js'
import * as refs from '../fixtures/unit/refs.js'
import * as alias from '../fixtures/unit/refs_alias.js'
import { makeInnerFresh } from '../fixtures/unit/refs_fresh.js'
import { cjsTask } from '../fixtures/unit/cjs/cjs_task.js'

const refsUrl = new URL('../fixtures/unit/refs.ts', import.meta.url)
const aliasUrl = new URL('../fixtures/unit/refs_alias.ts', import.meta.url)
const freshUrl = new URL('../fixtures/unit/refs_fresh.ts', import.meta.url)

/** Waits for a resolution's asynchronous confirmation, if it has one. */
async function settle(resolved: ResolvedTask): Promise<ResolvedTask> {
  if (resolved.verified !== null) await resolved.verified
  return resolved
}

/** Makes sure the namespace of refs.ts is known, so that later lookups are synchronous. */
async function loadRefs(): Promise<void> {
  await settle(resolveTask(refs.exported))
}

function isUnreferenceable(e: unknown): e is TypeError {
  return e instanceof TypeError && (e as TypeError & { code?: string }).code === 'ERR_MP_UNREFERENCEABLE_TASK'
}

function localHelper(x: number): number {
  return x
}

describe('normalizeModule()', () => {
  it('a URL object gives its href', () => {
    assert.equal(normalizeModule(new URL('file:///srv/app/tasks.js')), 'file:///srv/app/tasks.js')
    assert.equal(normalizeModule(new URL('https://example.com/t.js?v=1')), 'https://example.com/t.js?v=1')
  })

  it('a URL string is kept as is (file:, node:, data:, https:)', () => {
    for (const url of ['file:///srv/app/tasks.js', 'node:fs', 'data:text/javascript,export const x = 1', 'https://example.com/t.js']) {
      assert.equal(normalizeModule(url), url)
    }
  })

  it('an absolute path becomes a file URL, escaped', () => {
    assert.equal(normalizeModule('/srv/app/tasks.js'), 'file:///srv/app/tasks.js')
    assert.equal(normalizeModule('/srv/my app/100%.js'), 'file:///srv/my%20app/100%25.js')
    assert.equal(normalizeModule('/srv/app/tasks.js'), pathToFileURL('/srv/app/tasks.js').href)
  })

  it('a relative path is refused with a TypeError that suggests new URL(..., import.meta.url)', () => {
    for (const relative of ['./tasks.js', '../lib/tasks.js', '.']) {
      assert.throws(
        () => normalizeModule(relative),
        (e: unknown) => {
          assert.ok(e instanceof TypeError)
          assert.equal((e as TypeError & { code: string }).code, 'ERR_MP_INVALID_ARG_TYPE')
          assert.ok(e.message.includes(`got the relative path ${JSON.stringify(relative)}`), e.message)
          assert.ok(e.message.includes(`new URL(${JSON.stringify(relative)}, import.meta.url)`), e.message)
          return true
        },
      )
    }
  })

  it('the argument name appears in the message', () => {
    assert.throws(() => normalizeModule('./x.js', 'initializer module'), /Expected `initializer module` to be a module URL/)
  })

  it('a bare package specifier is kept for the worker to resolve', () => {
    for (const bare of ['lodash', 'lodash/fp.js', '@scope/pkg', '@scope/pkg/tasks.js', '#internal/tasks']) {
      assert.equal(normalizeModule(bare), bare)
    }
  })

  it('an empty string or a non-string is refused', () => {
    assert.throws(() => normalizeModule(''), (e: unknown) => e instanceof TypeError && /got an empty string$/.test(e.message))
    for (const bad of [undefined, null, 42, {}]) {
      assert.throws(() => normalizeModule(bad as never), TypeError, String(bad))
    }
  })
})

describe('task()', () => {
  it('makes a frozen reference by module URL and export name', () => {
    const ref = task<(x: number) => number>(refsUrl, 'exported')
    assert.equal(ref.module, refsUrl.href)
    assert.equal(ref.name, 'exported')
    assert.equal(Object.isFrozen(ref), true)
    assert.equal(isTaskRef(ref), true)
  })

  it('normalizes the module like normalizeModule()', () => {
    assert.equal(task('/srv/tasks.js', 'f').module, 'file:///srv/tasks.js')
    assert.equal(task('some-package', 'f').module, 'some-package')
    assert.throws(() => task('./tasks.js', 'f'), /new URL\("\.\/tasks\.js", import\.meta\.url\)/)
  })

  it('refuses an empty or non-string name', () => {
    assert.throws(() => task(refsUrl, ''), (e: unknown) => e instanceof TypeError && /`name`.*got an empty string/.test(e.message))
    assert.throws(() => task(refsUrl, 5 as never), TypeError)
    assert.throws(() => task(refsUrl, undefined as never), TypeError)
  })

  it('isTaskRef is false for look-alikes', () => {
    for (const value of [null, undefined, 'x', { module: refsUrl.href, name: 'exported' }, refs.exported]) {
      assert.equal(isTaskRef(value), false, String(value))
    }
  })
})

describe('tasks()', () => {
  it('gives a typed reference per export, without importing the module', () => {
    const t = tasks<typeof import('../fixtures/unit/refs.js')>(refsUrl)
    const ref: TaskRef<(x: number) => number> = t.exported
    assert.equal(ref.module, refsUrl.href)
    assert.equal(ref.name, 'exported')
    assert.equal(isTaskRef(ref), true)
    assert.equal(t.asyncTask.name, 'asyncTask')
  })

  it('caches: the same property gives the same reference', () => {
    const t = tasks<typeof import('../fixtures/unit/refs.js')>(refsUrl)
    assert.equal(t.exported, t.exported)
    assert.notEqual(t.exported, t.secondExport)
  })

  it('is not thenable: `then` is undefined and awaiting gives the proxy itself', async () => {
    const t = tasks<Record<string, (...args: unknown[]) => unknown>>(refsUrl)
    assert.equal((t as Record<string, unknown>).then, undefined)
    const awaited = await t
    assert.equal(awaited, t)
  })

  it('symbol properties are undefined, so inspect() and coercion do not make references', () => {
    const t = tasks<Record<string, (...args: unknown[]) => unknown>>(refsUrl)
    assert.equal((t as unknown as Record<symbol, unknown>)[Symbol.iterator], undefined)
    assert.equal((t as unknown as Record<symbol, unknown>)[Symbol.toPrimitive], undefined)
    assert.doesNotThrow(() => inspect(t))
  })

  it('any name gives a reference (checked by the worker, not here)', () => {
    const t = tasks<Record<string, (...args: unknown[]) => unknown>>('some-package')
    assert.deepEqual({ module: t.anything!.module, name: t.anything!.name }, { module: 'some-package', name: 'anything' })
  })

  it('refuses a relative path at once', () => {
    assert.throws(() => tasks('./tasks.js'), TypeError)
  })
})

describe('resolveTask(): task references', () => {
  it('resolves to module, name, key and label, with nothing to verify', () => {
    const resolved = resolveTask(task(refsUrl, 'exported'))
    assert.equal(resolved.module, refsUrl.href)
    assert.equal(resolved.name, 'exported')
    assert.equal(resolved.key, `${refsUrl.href}#exported`)
    assert.equal(resolved.label, 'exported (refs.ts)')
    assert.equal(resolved.verified, null)
  })

  it('is cached per reference', () => {
    const ref = task(refsUrl, 'exported')
    assert.equal(resolveTask(ref), resolveTask(ref))
  })

  it('a bare specifier gets a label with the whole specifier', () => {
    assert.equal(resolveTask(task('pkg', 'run')).label, 'run (pkg)')
  })

  it('refuses what is neither a function nor a reference', () => {
    assert.throws(
      () => resolveTask({}),
      (e: unknown) =>
        e instanceof TypeError && e.message === 'Expected `fn` to be an exported function or a task reference (task(url, name)), got object',
    )
    assert.throws(() => resolveTask(null), /got null$/)
    assert.throws(() => resolveTask('square', 'task'), /^TypeError: Expected `task` to be .*got string$/)
  })
})

describe('resolveTask(): exported functions', () => {
  it('an exported function resolves to its module and name', async () => {
    const resolved = await settle(resolveTask(refs.exported))
    assert.equal(resolved.module, refsUrl.href)
    assert.equal(resolved.name, 'exported')
    assert.equal(resolved.key, `${refsUrl.href}#exported`)
    assert.equal(resolved.label, 'exported (refs.ts)')
    assert.equal(resolved.verified, null)
  })

  it('once the module is known, resolution is synchronous', async () => {
    await loadRefs()
    const resolved = resolveTask(refs.secondExport)
    assert.equal(resolved.verified, null)
    assert.equal(resolved.name, 'secondExport')
    const asyncOne = resolveTask(refs.asyncTask)
    assert.equal(asyncOne.verified, null)
    assert.equal(asyncOne.name, 'asyncTask')
  })

  it('is cached per function', async () => {
    await loadRefs()
    assert.equal(resolveTask(refs.exported), resolveTask(refs.exported))
  })

  it('first sight of a module: `verified` is a Promise; the alias and default names are found', async () => {
    const first = resolveTask(alias.aliased)
    assert.ok(first.verified instanceof Promise, 'the namespace of refs_alias.ts was not known yet')
    assert.equal(first.module, aliasUrl.href)
    await first.verified
    assert.equal(first.name, 'aliased')
    assert.equal(first.key, `${aliasUrl.href}#aliased`)
    assert.equal(first.label, 'aliased (refs_alias.ts)')
    assert.equal(first.verified, null)
    assert.equal(resolveTask(alias.aliased), first, 'the cached resolution carries the confirmed name')

    // The namespace is known now: the default export resolves synchronously.
    const def = resolveTask(alias.default)
    assert.equal(def.verified, null)
    assert.equal(def.name, 'default')
    assert.equal(def.key, `${aliasUrl.href}#default`)
    assert.equal(def.label, 'default (refs_alias.ts)')
  })

  it('first sight of a module, through a function it does not export: `verified` rejects', async () => {
    const inner = makeInnerFresh()
    let resolved: ResolvedTask | undefined
    try {
      resolved = resolveTask(inner)
    } catch (error) {
      assert.fail(`expected an asynchronous refusal on first sight, got ${String(error)}`)
    }
    assert.ok(resolved.verified instanceof Promise)
    assert.equal(resolved.module, freshUrl.href)
    await assert.rejects(resolved.verified, (e: unknown) => {
      assert.ok(isUnreferenceable(e))
      assert.match(e.message, /^Cannot send `innerFresh` to a worker: it is not exported by its module refs_fresh\.ts/)
      assert.ok(e.message.includes('write `export function innerFresh(...)` in refs_fresh.ts'), e.message)
      assert.ok(e.message.includes('A closure cannot be sent'), e.message)
      return true
    })
    // From now on the refusal is synchronous, with the same error.
    assert.throws(() => resolveTask(inner), (e: unknown) => isUnreferenceable(e) && /innerFresh/.test(e.message))
  })

  it('a function the module does not export, once the module is known: thrown synchronously', async () => {
    await loadRefs()
    const inner = refs.makeInner()
    assert.throws(
      () => resolveTask(inner),
      (e: unknown) => {
        assert.ok(isUnreferenceable(e))
        assert.match(e.message, /^Cannot send `inner` to a worker: it is not exported by its module refs\.ts/)
        assert.ok(e.message.includes('write `export function inner(...)` in refs.ts'), e.message)
        return true
      },
    )
    // Cached: the same error again.
    let first: unknown
    let second: unknown
    try {
      resolveTask(inner)
    } catch (e) {
      first = e
    }
    try {
      resolveTask(inner)
    } catch (e) {
      second = e
    }
    assert.equal(first, second)
  })

  it(
    'names the source line of a function that is not exported',
    async () => {
      await loadRefs()
      assert.throws(() => resolveTask(refs.makeInner()), (e: unknown) => isUnreferenceable(e) && e.message.includes('(line 11)'))
    },
  )

  it('an anonymous function that the module does not export is refused', async () => {
    await loadRefs()
    assert.throws(
      () => resolveTask(refs.makeAnonymous()),
      (e: unknown) => {
        assert.ok(isUnreferenceable(e))
        assert.match(e.message, /^Cannot send an anonymous function to a worker: it is not exported by its module refs\.ts \(line 22\)/)
        return true
      },
    )
  })

  it(
    'a TypeScript module in a package of type commonjs, imported as ./x.js, resolves to its file URL',
    async () => {
      const cjsUrl = new URL('../fixtures/unit/cjs/cjs_task.ts', import.meta.url)
      const resolved = await settle(resolveTask(cjsTask))
      assert.equal(resolved.module, cjsUrl.href)
      assert.equal(resolved.name, 'cjsTask')
    },
  )
})

describe('resolveTask(): functions that cannot be referenced', () => {
  it('a function defined in the entry module (this test file)', () => {
    for (const fn of [localHelper, (x: number) => x]) {
      assert.throws(
        () => resolveTask(fn),
        (e: unknown) => {
          assert.ok(isUnreferenceable(e))
          assert.ok(e.message.includes("it is defined in the program's entry module task_ref.test.ts"), e.message)
          assert.ok(e.message.includes('Move the task into its own module'), e.message)
          return true
        },
      )
    }
  })

  it('a built-in function', () => {
    assert.throws(
      () => resolveTask(Math.max),
      (e: unknown) => isUnreferenceable(e) && e.message.startsWith('Cannot send `max` to a worker: it is a built-in function.'),
    )
    assert.throws(() => resolveTask(parseInt), (e: unknown) => isUnreferenceable(e) && /built-in/.test(e.message))
  })

  it('a bound function', async () => {
    await loadRefs()
    assert.throws(
      () => resolveTask(refs.exported.bind(null)),
      (e: unknown) => isUnreferenceable(e) && e.message.startsWith('Cannot send `bound exported` to a worker: it is a bound function.'),
    )
  })

  it('a function made by new Function (no URL)', () => {
    const made = new Function('x', 'return x') as (x: number) => number
    assert.throws(
      () => resolveTask(made),
      (e: unknown) => isUnreferenceable(e) && /it was not defined in a module file \(eval, new Function or the REPL\)/.test(e.message),
    )
  })

  it('a function made by eval', () => {
    const made = (0, eval)('(function evaluated(x) { return x })') as (x: number) => number
    assert.throws(() => resolveTask(made), (e: unknown) => isUnreferenceable(e) && /Cannot send `evaluated`.*not defined in a module file/.test(e.message))
  })

  it('a function of Node.js itself', () => {
    assert.throws(
      () => resolveTask(inspect),
      (e: unknown) => isUnreferenceable(e) && /^Cannot send `inspect` to a worker: it belongs to Node\.js itself \(node:/.test(e.message),
    )
  })

  it('a class is not mistaken for a task of another module', async () => {
    class Local {}
    assert.throws(() => resolveTask(Local), (e: unknown) => isUnreferenceable(e) && /entry module/.test(e.message))
  })
})

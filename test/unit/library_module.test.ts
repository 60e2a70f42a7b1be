// Package-relative ids of the library's own modules, and the library tasks a
// cluster worker accepts.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { libraryModuleId, resolveModule, isLibraryModuleId } from '../../src/wire/library_module.js'
import { isLibraryShareableModule, libraryTaskImports } from '../../src/backends/nats/library_tasks.js'
import { KIND_CALL, KIND_CHUNK } from '../../src/wire/messages.js'

const proxies = new URL('../../src/manager/proxies.ts', import.meta.url).href

describe('library module ids', () => {
  it('name a library module by its path in the library and resolve back to this copy', () => {
    assert.equal(libraryModuleId(proxies), 'multiproc:manager/proxies.js')
    assert.equal(resolveModule('multiproc:manager/proxies.js'), proxies)
    assert.equal(isLibraryModuleId('multiproc:cli/line_task.js'), true)
  })

  it('leave modules outside the library as they are', () => {
    const user = new URL('../fixtures/tasks.ts', import.meta.url).href
    assert.equal(libraryModuleId(user), user)
    assert.equal(resolveModule(user), user)
    assert.equal(resolveModule('some-package/sub'), 'some-package/sub')
  })

  it('refuse ids that would leave the library root', () => {
    for (const bad of ['multiproc:../package.json', 'multiproc:/etc/passwd.js', 'multiproc:a/../../b.js', 'multiproc:', 'multiproc:x.ts']) {
      assert.throws(() => resolveModule(bad), { name: 'RangeError', code: 'ERR_MP_INVALID_ARG_VALUE' }, bad)
    }
  })
})

describe('library tasks of a cluster worker', () => {
  it('runLineBatch is one, and names the user module of each job', () => {
    const job = { module: 'file:///x/tasks.js', name: 'f' }
    assert.deepEqual(libraryTaskImports('multiproc:cli/line_task.js', 'runLineBatch', KIND_CALL, [job]), ['file:///x/tasks.js'])
    assert.deepEqual(
      libraryTaskImports('multiproc:cli/line_task.js', 'runLineBatch', KIND_CHUNK, [[job], [{ module: 'file:///y.js' }], 'junk']),
      ['file:///x/tasks.js', 'file:///y.js', undefined],
    )
    assert.deepEqual(libraryTaskImports('multiproc:cli/line_task.js', 'runLineBatch', KIND_CALL, [null]), [undefined])
  })

  it('library internals are not tasks; only modules that register shareable types are shareable', () => {
    assert.equal(libraryTaskImports('multiproc:backends/nats/run_task.js', 'runTask', KIND_CALL, []), null)
    assert.equal(libraryTaskImports('multiproc:cli/line_task.js', 'load', KIND_CALL, []), null)
    assert.equal(isLibraryShareableModule('multiproc:manager/proxies.js'), true)
    assert.equal(isLibraryShareableModule('multiproc:manager/server_entry.js'), false)
  })
})

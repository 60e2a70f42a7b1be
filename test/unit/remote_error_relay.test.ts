// An error relayed through two hops (task thread → cluster worker → caller,
// or a nested pool) keeps the name of its original class.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { RemoteError, registerError } from '../../src/index.js'
import { deserializeError, serializeError } from '../../src/wire/remote_error.js'

class FarAwayError extends Error {}
class KnownLaterError extends Error {}

describe('serializeError of a relayed RemoteError', () => {
  it('sends the original class name, not RemoteError', () => {
    const once = deserializeError(serializeError(Object.assign(new FarAwayError('far'), { detail: 1 })))
    assert.ok(once instanceof RemoteError)
    const twice = deserializeError(serializeError(once)) as RemoteError & { detail: number }
    assert.ok(twice instanceof RemoteError)
    assert.equal(twice.name, 'FarAwayError')
    assert.equal(twice.remoteName, 'FarAwayError')
    assert.equal(twice.detail, 1)
    assert.deepEqual(Object.keys(twice), ['detail'], 'no remoteName or code copied as own properties')
  })

  it('is rebuilt as the class when the last hop knows it', () => {
    const once = deserializeError(serializeError(new KnownLaterError('known')))
    registerError(KnownLaterError)
    const twice = deserializeError(serializeError(once))
    assert.ok(twice instanceof KnownLaterError)
    assert.equal((twice as Error).message, 'known')
  })
})

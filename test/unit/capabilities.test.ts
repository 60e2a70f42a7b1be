// Every backend states all of its capabilities, and they agree with what the
// conformance suite assumes of it; a Capabilities object is a ShareTarget.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { getAllStartMethods, getContext, Pool, UnsupportedBackendError, Lock, Value, type Capabilities } from '../../src/index.js'
import { CLUSTER_CAPABILITIES } from '../../src/backends/nats/capabilities.js'
import { kShare, type ShareTarget } from '../../src/wire/shareable.js'
import { increment } from '../fixtures/primitives.js'

const FLAGS = ['sameMachine', 'isolated', 'preemptive', 'sharedMemory', 'ownProcess', 'ownWorkers', 'cancelsRunning'] as const satisfies readonly (keyof Capabilities)[]

// What test/conformance/backends.ts models, by backend.
const EXPECTED: Record<string, Capabilities> = {
  thread: { sameMachine: true, isolated: true, preemptive: true, sharedMemory: true, ownProcess: false, ownWorkers: true, cancelsRunning: false },
  process: { sameMachine: true, isolated: true, preemptive: true, sharedMemory: false, ownProcess: true, ownWorkers: true, cancelsRunning: false },
  inline: { sameMachine: true, isolated: false, preemptive: false, sharedMemory: true, ownProcess: false, ownWorkers: true, cancelsRunning: false },
  nats: { sameMachine: false, isolated: true, preemptive: true, sharedMemory: false, ownProcess: true, ownWorkers: false, cancelsRunning: true },
}

describe('capabilities', () => {
  it('every context states all seven, as the conformance suite models its backend', () => {
    for (const name of getAllStartMethods()) {
      const capabilities = getContext(name).capabilities
      assert.deepEqual(Object.keys(capabilities).sort(), [...FLAGS].sort(), name)
      for (const flag of FLAGS) assert.equal(typeof capabilities[flag], 'boolean', `${name}.${flag}`)
      assert.deepEqual({ ...capabilities }, EXPECTED[name], name)
    }
    assert.equal(getContext('nats').capabilities, CLUSTER_CAPABILITIES)
    assert.ok(Object.isFrozen(CLUSTER_CAPABILITIES))
  })

  it('a Capabilities object is a ShareTarget: shareables decide from it alone, without a name', () => {
    const cluster: ShareTarget = CLUSTER_CAPABILITIES
    const thread: ShareTarget = getContext('thread').capabilities
    const processes: ShareTarget = getContext('process').capabilities
    const lock = new Lock()
    assert.throws(() => lock[kShare](cluster), (e: unknown) => e instanceof UnsupportedBackendError && /the remote backend/.test(e.message))
    assert.ok(lock[kShare](thread).data !== undefined)
    assert.ok(lock[kShare](processes).data !== undefined)
    // A Value in this thread's memory reaches threads, not child processes.
    const value = new Value('i32', 0, { lock: false })
    assert.throws(() => value[kShare](processes), UnsupportedBackendError)
    assert.ok(value[kShare](thread).data !== undefined)
  })

  it('a Pool resolves a name or a Context to the one Context of that name', async () => {
    const ctx = getContext('inline')
    await using byName = new Pool({ context: 'inline', processes: 1 })
    await using byContext = new Pool({ context: ctx, processes: 1 })
    assert.equal(byName.context, ctx)
    assert.equal(byContext.context, ctx)
    assert.throws(() => new Pool({ context: 42 as never }), /Expected `context` to be 'thread', 'process', 'inline' or a context from getContext\(\), got number/)
  })

  it('a context whose workers the executor does not start (the cluster) refuses a Process; its Value is not kept in a file', () => {
    const cluster = getContext('nats')
    assert.throws(
      () => new cluster.Process({ target: increment, args: [] as never }),
      (e: unknown) => e instanceof UnsupportedBackendError && /the nats context runs tasks on the cluster: use getContext\('nats'\)\.Executor or Pool/.test(e.message),
    )
    assert.equal(cluster.Value, Value)
    assert.equal(getContext('thread').Value, Value)
    assert.notEqual(getContext('process').Value, Value)
  })
})

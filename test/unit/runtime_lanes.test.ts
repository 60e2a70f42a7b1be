// The task runner on its own: a run message that arrives while the runner
// finishes a batch is not left behind, and a runner with lanes answers by
// sequence number, as tasks finish, with the progress and the chunk parts
// of each task under its number.
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { TaskRunner } from '../../src/worker/runtime.js'
import { FLAG_FLAT, FLAG_PROGRESS, KIND_CALL, KIND_CHUNK, PROTOCOL_VERSION, STATUS_OK, type ChunkOutcome, type FromWorker } from '../../src/wire/messages.js'
import { openGate, resetGate, tasksWaiting } from '../fixtures/unit/held_results.js'

const fixture = new URL('../fixtures/unit/held_results.ts', import.meta.url).href

afterEach(() => resetGate())

type Done = Extract<FromWorker, { t: 'done' }>

async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = performance.now() + ms
  while (!check()) {
    if (performance.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}

function runner(concurrency?: number): { runner: TaskRunner; messages: Done[] } {
  const messages: Done[] = []
  const r = new TaskRunner(
    {
      post(message: FromWorker) {
        if (message.t === 'done') messages.push(message)
      },
    },
    { v: PROTOCOL_VERSION, label: 'test runner', initializer: null, initargs: [], counters: null, ...(concurrency === undefined ? {} : { concurrency }) },
  )
  return { runner: r, messages }
}

const values = (messages: Done[]): unknown[] => messages.flatMap((m) => m.r.filter((_, i) => i % 2 === 1))

describe('TaskRunner', () => {
  it('runs a batch received from a nextTick just after the one before it ran to its end', async () => {
    const { runner: r, messages } = runner()
    await r.start()
    // Loads the function first: the next batches then run without yielding.
    r.receive({ t: 'run', f: [[0, fixture, 'quick']], q: [KIND_CALL, 0, [1]] })
    assert.ok(await until(() => values(messages).length === 1), 'the first task never answered')
    // As a process worker's IPC channel delivers two messages: each from a nextTick, both before
    // the microtasks the first one's run queued (nextTicks all run before microtasks).
    process.nextTick(() => {
      r.receive({ t: 'run', f: undefined, q: [KIND_CALL, 0, [2], KIND_CALL, 0, [3]] })
      process.nextTick(() => r.receive({ t: 'run', f: undefined, q: [KIND_CALL, 0, [4]] }))
    })
    assert.ok(await until(() => values(messages).length === 4), `a batch was left behind: ${JSON.stringify(values(messages))}`)
    assert.deepEqual(values(messages), [2, 4, 6, 8])
  })

  it('with lanes, starts the next task while one waits and answers each by its sequence number', async () => {
    const { runner: r, messages } = runner(2)
    await r.start()
    r.receive({ t: 'run', f: [[0, fixture, 'step']], q: [KIND_CALL, 0, ['waitForCaller'], KIND_CALL, 0, ['double', 21]] })
    assert.ok(await until(() => values(messages).length === 1), 'the second task did not run beside the waiting one')
    assert.deepEqual(messages.flatMap((m) => m.k), [1])
    assert.deepEqual(values(messages), [42])
    assert.equal(tasksWaiting(), 1)
    openGate()
    assert.ok(await until(() => values(messages).length === 2), 'the released task never answered')
    assert.deepEqual(messages.flatMap((m) => m.k), [1, 0])
    assert.ok(messages.every((m) => typeof m.l === 'number' && m.l >= 0), 'every message of a runner with lanes carries its lane time')
  })

  it('with lanes, sends the items of a chunk that ended in a row ahead, and the rest in item order', async () => {
    const { runner: r, messages } = runner(3)
    await r.start()
    r.receive({ t: 'run', f: [[0, fixture, 'step']], q: [KIND_CHUNK, 0, [['double', 1], ['waitForCaller'], ['double', 2], ['double', 3]]] })
    // Item 0 ends at once and goes ahead; items 2 and 3 end beside the waiting item 1 but wait for it.
    assert.ok(await until(() => tasksWaiting() === 1 && messages.some((m) => m.c !== undefined)), 'item 0 was not sent ahead')
    assert.deepEqual(
      messages.flatMap((m) => m.c ?? []),
      [0, { v: [2], e: undefined, d: 0 }],
    )
    assert.equal(values(messages).length, 0, 'the chunk answered before its items ended')
    openGate()
    assert.ok(await until(() => values(messages).length === 1), 'the chunk never answered')
    const outcome = values(messages)[0] as ChunkOutcome
    assert.deepEqual(outcome.v, ['released', 4, 6])
    assert.deepEqual(messages.flatMap((m) => m.k), [0])
  })

  it('with lanes, keys progress by sequence number and names the item of a chunk', async () => {
    const { runner: r, messages } = runner(4)
    await r.start()
    const fixtureTasks = new URL('../fixtures/concurrent_tasks.ts', import.meta.url).href
    const items = [0, 1, 2, 3].map((i) => ['lanes-unit', 4, i])
    r.receive({ t: 'run', f: [[0, fixtureTasks, 'rendezvousItem']], q: [KIND_CALL | FLAG_PROGRESS, 0, [['lanes-unit-call', 1, 7]], KIND_CHUNK | FLAG_FLAT | FLAG_PROGRESS, 0, items] })
    assert.ok(await until(() => values(messages).length === 2), 'the call and the chunk never both answered')
    const heard = new Map<number, unknown[]>()
    for (const m of messages) for (let i = 0; i < (m.g?.length ?? 0); i += 2) heard.set(m.g![i] as number, [...(heard.get(m.g![i] as number) ?? []), ...(m.g![i + 1] as unknown[])])
    // The call (sequence number 0) heard item 0's values; the chunk (1) each of its items'.
    assert.deepEqual(heard.get(0)?.slice(-2), [0, { value: 7, at: 'end' }])
    const chunk = heard.get(1)!
    const last = new Map<number, unknown>()
    for (let i = 0; i < chunk.length; i += 2) last.set(chunk[i] as number, chunk[i + 1])
    assert.deepEqual([...last.keys()].sort(), [0, 1, 2, 3])
    for (const [item, value] of last) assert.deepEqual(value, { value: item, at: 'end' })
    const chunkResult = messages.flatMap((m) => m.r.filter((_, i) => i % 2 === 1).map((v, i) => [m.k![i], v])).find(([k]) => k === 1)![1] as ChunkOutcome
    assert.deepEqual(chunkResult.v, [0, 10, 20, 30])
    assert.equal(messages.flatMap((m) => m.r.filter((_, i) => i % 2 === 0)).every((s) => s === STATUS_OK), true)
  })
})

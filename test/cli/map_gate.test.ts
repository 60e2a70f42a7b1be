// ParallelGate: when `multiproc map` starts its workers and lets blocks go
// to all of them, and that no block goes wide before the workers are ready.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { EAGER_BYTES, ParallelGate, workersAtStart } from '../../src/cli/map_gate.js'

/** A warm() that records its calls and resolves when told. */
function fakeWarm() {
  const calls: number[] = []
  let release: () => void = () => {}
  const warm = (n: number): Promise<void> => {
    calls.push(n)
    return new Promise<void>((resolve) => (release = resolve))
  }
  return { calls, warm, release: () => release() }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

it('a file of EAGER_BYTES or more starts every worker at once, and goes wide once they are ready', async () => {
  const w = fakeWarm()
  const gate = new ParallelGate(EAGER_BYTES, 2, w.warm)
  assert.deepEqual(w.calls, [2])
  assert.equal(gate.closed, true)
  // Meanwhile blocks go one at a time: the second waits for the first.
  await gate.turn()
  gate.sent(1000)
  let second = false
  void gate.turn().then(() => (second = true))
  await tick()
  assert.equal(second, false)
  w.release()
  await tick()
  assert.equal(gate.closed, false)
  assert.equal(second, true)
})

it('a smaller file starts one worker, and the others only when its measured work repays them', async () => {
  const w = fakeWarm()
  const size = 1_000_000
  const gate = new ParallelGate(size, 2, w.warm)
  assert.deepEqual(w.calls, [1])
  // The first block (cold) is not evidence; then 10 ms for 10 kB: 1 s left, more than enough.
  gate.sent(10_000)
  gate.done(50, 10_000)
  assert.deepEqual(w.calls, [1])
  gate.sent(20_000)
  gate.done(10, 10_000)
  assert.deepEqual(w.calls, [1, 2])
  assert.equal(gate.closed, true, 'not wide before the workers are ready')
  w.release()
  await tick()
  assert.equal(gate.closed, false)
})

it('a small file of little work stays on one worker', () => {
  const w = fakeWarm()
  const gate = new ParallelGate(40_000, 2, w.warm)
  gate.sent(10_000)
  gate.done(5, 10_000)
  gate.sent(20_000)
  gate.done(6, 10_000) // 20 kB left at 0.6 µs a byte: 12 ms
  assert.deepEqual(w.calls, [1])
  assert.equal(gate.closed, true)
})

it('a stream goes as the window allows from the start; an empty file starts no worker', () => {
  const stream = fakeWarm()
  assert.equal(new ParallelGate(NaN, 2, stream.warm).closed, false)
  assert.deepEqual(stream.calls, [1])
  const empty = fakeWarm()
  new ParallelGate(0, 2, empty.warm)
  assert.deepEqual(empty.calls, [])
})

it('under -j 1 a file goes as the window allows, unless the worker runs several lines at once', () => {
  const w = fakeWarm()
  const gate = new ParallelGate(EAGER_BYTES * 4, 1, w.warm)
  assert.deepEqual(w.calls, [1])
  assert.equal(gate.closed, false)
  const lanes = fakeWarm()
  assert.equal(new ParallelGate(EAGER_BYTES * 4, 1, lanes.warm, 4).closed, true)
  assert.deepEqual(lanes.calls, [1])
})

it('open() lets everything through at the end of a run, warm or not', async () => {
  const w = fakeWarm()
  const gate = new ParallelGate(EAGER_BYTES, 2, w.warm)
  gate.sent(1)
  let passed = false
  void gate.turn().then(() => (passed = true))
  gate.open()
  await tick()
  assert.equal(passed, true)
  assert.equal(gate.closed, false)
})

it('the first block waits until the first worker is ready: sent earlier, it would find none idle and start another', async () => {
  for (const size of [1000, NaN]) {
    const w = fakeWarm()
    const gate = new ParallelGate(size, 2, w.warm)
    let first = false
    void gate.turn().then(() => (first = true))
    await tick()
    assert.equal(first, false, `size ${size}`)
    w.release()
    await tick()
    assert.equal(first, true, `size ${size}`)
    assert.deepEqual(w.calls, [1])
  }
})

it('workersAtStart names as many workers as the gate starts first (the threads started ahead of the executor)', () => {
  const cases: [size: number, workers: number, lanes: number][] = [
    [0, 2, 1],
    [10, 2, 1],
    [10, 1, 1],
    [10, 1, 4],
    [EAGER_BYTES, 2, 1],
    [EAGER_BYTES, 1, 1],
    [EAGER_BYTES, 4, 8],
    [NaN, 2, 1],
  ]
  for (const [size, workers, lanes] of cases) {
    const w = fakeWarm()
    new ParallelGate(size, workers, w.warm, lanes)
    assert.equal(workersAtStart(size, workers), w.calls[0] ?? 0, `size ${size}, ${workers} workers, ${lanes} lanes`)
  }
})

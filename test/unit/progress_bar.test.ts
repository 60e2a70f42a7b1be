// ProgressBar and progressBar(): what they draw, when they draw nothing, and that values pass through untouched.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { ProgressBar, progressBar, ThreadPoolExecutor } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'

function sink(): { stream: Writable; text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk)
      done()
    },
  })
  return { stream, text: () => text }
}

describe('ProgressBar', () => {
  it('draws the count, the percentage and failures, and ends the line on stop()', () => {
    const out = sink()
    const bar = new ProgressBar({ total: 4, unit: 'files', stream: out.stream, enabled: true })
    bar.tick()
    bar.tick(2)
    bar.fail()
    bar.stop()
    bar.stop()
    assert.match(out.text(), /\r\[#{24}\] 100%  4 files  [\d,]+ files\/s  ETA 0:00  1 failed\x1b\[K\n$/)
    assert.equal(out.text().split('\n').length, 2, 'one final line, stop() twice draws once')
  })

  it('draws nothing when the stream is not a terminal, unless enabled', () => {
    const out = sink()
    const bar = new ProgressBar({ stream: out.stream })
    bar.tick(10)
    bar.draw()
    bar.stop()
    assert.equal(out.text(), '')
    assert.equal(bar.state.items, 10)
    assert.ok(Number.isNaN(bar.state.fraction), 'no total: no fraction')
  })

  it("shows an executor's p99 task time and busy workers", async () => {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 2 })
    await Promise.all(Array.from({ length: 20 }, (_, i) => ex.submit(T.square, i)))
    const out = sink()
    const bar = new ProgressBar({ stream: out.stream, enabled: true, stats: () => ex.stats() })
    bar.tick(20)
    bar.stop()
    assert.match(out.text(), /20 items  .*p99 task [\d.]+ m?s  \d\.\d\/2 busy/)
  })

  it('refuses unknown options and bad values at once', () => {
    assert.throws(() => new ProgressBar({ totl: 3 } as never), { code: 'ERR_MP_UNKNOWN_OPTION' })
    assert.throws(() => new ProgressBar({ total: -1 }), /total/)
    assert.throws(() => new ProgressBar({ stats: 5 as never }), /stats/)
    assert.throws(() => progressBar([1], { unit: 3 as never }), /unit/)
    assert.throws(() => progressBar(5 as never), /iterable/)
  })
})

describe('progressBar()', () => {
  it('passes every value through in order, counts Error values as failed, and stops the bar at the end', async () => {
    const out = sink()
    async function* source(): AsyncGenerator<unknown> {
      yield 1
      yield new Error('bad item')
      yield 3
    }
    const seen: unknown[] = []
    for await (const v of progressBar(source(), { total: 3, stream: out.stream, enabled: true })) seen.push(v instanceof Error ? v.message : v)
    assert.deepEqual(seen, [1, 'bad item', 3])
    assert.match(out.text(), /100%  3 items  .*1 failed\x1b\[K\n$/)
  })

  it('stops the bar when the loop breaks early, and closes the source', async () => {
    const out = sink()
    let closed = false
    function* source(): Generator<number> {
      try {
        for (let i = 0; ; i++) yield i
      } finally {
        closed = true
      }
    }
    for await (const v of progressBar(source(), { stream: out.stream, enabled: true })) if (v === 4) break
    assert.ok(closed, 'the source was closed')
    assert.match(out.text(), /5 items .*\n$/)
  })
})

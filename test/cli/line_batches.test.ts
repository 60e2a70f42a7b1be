// lineBatches: numbering, sizes, character limit, CRLF, a last line without newline,
// and partial batches handed out when the stream has nothing more buffered.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough, Readable } from 'node:stream'
import { lineBatches, type LineBatch } from '../../src/cli/line_batches.js'

async function all(stream: Readable, size: number, maxChars = 1 << 20): Promise<LineBatch[]> {
  const out: LineBatch[] = []
  for await (const batch of lineBatches(stream, { size: () => size, maxChars })) out.push(batch)
  return out
}

it('numbers lines from 1 in batches of the asked size, across chunk boundaries', async () => {
  const batches = await all(Readable.from(['a\nb', 'b\ncc', 'c\n', 'd\r\ne'], { objectMode: false }), 2)
  const lines = batches.flatMap((b) => b.lines)
  assert.deepEqual(lines, ['a', 'bb', 'ccc', 'd', 'e'])
  let next = 1
  for (const b of batches) {
    assert.equal(b.first, next)
    assert.ok(b.lines.length >= 1 && b.lines.length <= 2)
    next += b.lines.length
  }
})

it('closes a batch at the character limit', async () => {
  const text = Array.from({ length: 100 }, () => 'x'.repeat(9)).join('\n') + '\n' // 10 chars per line
  const batches = await all(Readable.from([text]), 1000, 35)
  assert.ok(batches.every((b) => b.chars <= 40 && b.lines.length <= 4), JSON.stringify(batches.map((b) => b.lines.length)))
  assert.equal(batches.reduce((n, b) => n + b.lines.length, 0), 100)
  assert.equal(batches.reduce((n, b) => n + b.chars, 0), text.length)
})

it('hands out a partial batch when the stream has nothing more buffered', async () => {
  const stream = new PassThrough()
  const it = lineBatches(stream, { size: () => 100, maxChars: 1 << 20 })[Symbol.asyncIterator]()
  stream.write('one\ntwo\n')
  const first = await it.next()
  assert.deepEqual(first.value?.lines, ['one', 'two'])
  stream.end('three')
  const second = await it.next()
  assert.deepEqual(second.value?.lines, ['three'])
  assert.equal(second.value?.first, 3)
  assert.equal((await it.next()).done, true)
})

it('handles an empty input and multi-byte characters split across chunks', async () => {
  assert.deepEqual(await all(Readable.from([]), 10), [])
  const bytes = Buffer.from('héllo\nwörld\n')
  const batches = await all(Readable.from([bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)]), 10)
  assert.deepEqual(batches.flatMap((b) => b.lines), ['héllo', 'wörld'])
})

it('rethrows a stream error', async () => {
  const stream = new PassThrough()
  const done = all(stream, 10)
  stream.write('a\n')
  stream.destroy(new Error('disk on fire'))
  await assert.rejects(done, /disk on fire/)
})

// The consumer may hold a partial batch for long (its window of batches in
// flight is full): the stream can end, or get more data, meanwhile. The next
// read must see that rather than wait for an event that already happened
// (the process would exit with the run unfinished: exit code 13).
it('ends when the stream ended while the consumer held the last partial batch', async () => {
  const stream = new Readable({ read() {} })
  stream.push('one\ntwo\n')
  stream.push(null)
  const ended = new Promise<void>((resolve) => stream.once('end', resolve))
  const it = lineBatches(stream, { size: () => 100, maxChars: 1 << 20 })[Symbol.asyncIterator]()
  const first = await it.next()
  assert.deepEqual(first.value?.lines, ['one', 'two'])
  await ended // 'end' comes while the generator is suspended at its yield
  assert.equal((await it.next()).done, true)
})

it('reads data that arrived while the consumer held a partial batch', async () => {
  const stream = new PassThrough()
  const it = lineBatches(stream, { size: () => 100, maxChars: 1 << 20 })[Symbol.asyncIterator]()
  stream.write('one\n')
  assert.deepEqual((await it.next()).value?.lines, ['one'])
  stream.end('two\nthree\n')
  await new Promise<void>((resolve) => stream.once('readable', resolve))
  assert.deepEqual((await it.next()).value?.lines, ['two', 'three'])
  assert.equal((await it.next()).done, true)
})

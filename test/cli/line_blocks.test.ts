// fileBlocks and streamBlocks: blocks of whole lines covering the input exactly,
// sizes, lines per block, counting, partial blocks of a slow stream, errors;
// splitLines and runLineBlock: the lines and output of a block.
import { it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PassThrough, Readable } from 'node:stream'
import { countLines, fileBlocks, streamBlocks, type LineBlock, type LineBlocksOptions } from '../../src/cli/line_blocks.js'
import { closeInputs, runLineBlock, splitLines } from '../../src/cli/line_block_task.js'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'multiproc-blocks-'))
})
after(() => {
  closeInputs()
  rmSync(dir, { recursive: true, force: true })
})

async function collect(blocks: AsyncIterable<LineBlock>): Promise<LineBlock[]> {
  const out: LineBlock[] = []
  for await (const block of blocks) out.push(block)
  return out
}

async function ofFile(text: string | Buffer, options: LineBlocksOptions): Promise<{ blocks: LineBlock[]; bytes: Buffer }> {
  const file = join(dir, `f${Math.random()}.txt`)
  writeFileSync(file, text)
  const handle = await open(file)
  try {
    const bytes = Buffer.from(text)
    return { blocks: await collect(fileBlocks(handle, options)), bytes }
  } finally {
    await handle.close()
  }
}

/** The blocks tile the input, each ends after a newline (the last one may not). */
function assertTiles(blocks: LineBlock[], bytes: Buffer): void {
  let at = 0
  for (const [i, b] of blocks.entries()) {
    assert.equal(b.start, at)
    assert.ok(b.end > b.start, 'no empty block')
    if (i < blocks.length - 1) assert.equal(bytes[b.end - 1], 10, `block ${i} ends after a newline`)
    if (b.bytes !== undefined) {
      assert.deepEqual(b.bytes, bytes.subarray(b.start, b.end))
      assert.equal(b.bytes.byteOffset, 0)
      assert.equal(b.bytes.buffer.byteLength, b.bytes.length, 'a buffer of its own, sent whole')
    }
    at = b.end
  }
  assert.equal(at, bytes.length)
}

const text = Array.from({ length: 1000 }, (_, i) => `line ${i + 1}${'x'.repeat(i % 37)}`).join('\n') + '\n'

it('cuts a file into blocks of about the asked size, at newlines', async () => {
  for (const size of [1, 10, 100, 4096, 10_000, 1 << 20]) {
    const { blocks, bytes } = await ofFile(text, { size: () => size })
    assertTiles(blocks, bytes)
    if (size === 1) assert.equal(blocks.length, 1000, 'size 1: a line per block')
    for (const b of blocks.slice(0, -1)) assert.ok(b.end - b.start >= Math.min(size, 1), `${b.end - b.start} >= ${size}`)
  }
})

it('cuts a file whose last line has no newline, and an empty file', async () => {
  const { blocks, bytes } = await ofFile('a\nbb\nccc', { size: () => 2 })
  assertTiles(blocks, bytes)
  assert.deepEqual(
    blocks.map((b) => bytes.subarray(b.start, b.end).toString()),
    ['a\n', 'bb\n', 'ccc'],
  )
  assert.deepEqual((await ofFile('', { size: () => 10 })).blocks, [])
  // A line longer than the probe the main thread reads to find a newline.
  const long = 'y'.repeat(10_000) + '\nz\n'
  const r = await ofFile(long, { size: () => 5 })
  assertTiles(r.blocks, r.bytes)
  assert.equal(r.blocks.length, 2)
})

it('cuts a stream into buffers of their own, across chunk boundaries', async () => {
  const bytes = Buffer.from(text)
  for (const size of [1, 100, 4096, 1 << 20]) {
    const chunks = [bytes.subarray(0, 5), bytes.subarray(5, 3000), bytes.subarray(3000, 3001), bytes.subarray(3001)]
    const blocks = await collect(streamBlocks(Readable.from(chunks), { size: () => size }))
    assertTiles(blocks, bytes)
  }
})

it('numbers and counts the lines of stream blocks when asked, and cuts them by line count', async () => {
  const bytes = Buffer.from('a\nb\nc\nd\ne')
  const counted = await collect(streamBlocks(Readable.from([bytes]), { size: () => 3, countLines: true }))
  assertTiles(counted, bytes)
  let next = 1
  for (const b of counted) {
    assert.equal(b.first, next)
    next += b.lines!
  }
  assert.equal(next, 6)
  const byLines = await collect(streamBlocks(Readable.from([bytes.subarray(0, 3), bytes.subarray(3)]), { size: () => 1 << 20, linesPerBlock: 2 }))
  assert.deepEqual(
    byLines.map((b) => [b.first, b.lines, b.bytes!.toString()]),
    [
      [1, 2, 'a\nb\n'],
      [3, 2, 'c\nd\n'],
      [5, 1, 'e'],
    ],
  )
})

it('counts lines with and without a last newline', () => {
  assert.equal(countLines(Buffer.from('')), 0)
  assert.equal(countLines(Buffer.from('a')), 1)
  assert.equal(countLines(Buffer.from('a\n')), 1)
  assert.equal(countLines(Buffer.from('a\n\nb')), 3)
})

it('hands out the whole lines it holds when a stream pauses, and keeps a partial line', async () => {
  const stream = new PassThrough()
  const blocks = streamBlocks(stream, { size: () => 1 << 20 })[Symbol.asyncIterator]()
  stream.write('one\ntwo\nthr')
  assert.equal((await blocks.next()).value?.bytes?.toString(), 'one\ntwo\n')
  stream.end('ee\n')
  assert.equal((await blocks.next()).value?.bytes?.toString(), 'three\n')
  assert.equal((await blocks.next()).done, true)
})

it('ends when the stream ended while the consumer held a block', async () => {
  const stream = new Readable({ read() {} })
  stream.push('one\ntwo\n')
  stream.push(null)
  const ended = new Promise<void>((resolve) => stream.once('end', resolve))
  const blocks = streamBlocks(stream, { size: () => 4 })[Symbol.asyncIterator]()
  assert.equal((await blocks.next()).value?.bytes?.toString(), 'one\n')
  await ended
  assert.equal((await blocks.next()).value?.bytes?.toString(), 'two\n')
  assert.equal((await blocks.next()).done, true)
})

it('rethrows a stream error', async () => {
  const stream = new PassThrough()
  const done = collect(streamBlocks(stream, { size: () => 10 }))
  stream.write('a\n')
  stream.destroy(new Error('disk on fire'))
  await assert.rejects(done, /disk on fire/)
})

it('splits a block into lines as lineBatches does: CRLF, blank lines, a last line without newline', () => {
  assert.deepEqual(splitLines('one\r\n\ntwo\nthree'), ['one', '', 'two', 'three'])
  assert.deepEqual(splitLines('a\n'), ['a'])
  assert.deepEqual(splitLines(''), [])
  assert.deepEqual(splitLines('a\r'), ['a'])
  assert.deepEqual(splitLines('\n'), [''])
  // Told the text holds no CR, it looks at no line's end.
  assert.deepEqual(splitLines('one\ntwo\n', false), ['one', 'two'])
})

it('runs a block from its bytes or from the file, numbering failures within the block', async () => {
  const tasks = pathToFileURL(join(process.cwd(), 'test/fixtures/cli_tasks.ts')).href
  const input = 'héllo\nwörld\r\n'
  const file = join(dir, 'block.txt')
  writeFileSync(file, `skip me\n${input}`)
  const start = Buffer.byteLength('skip me\n')
  const fromFile = await runLineBlock({ module: tasks, name: 'upper', json: false, stopOnError: true, file, start, end: start + Buffer.byteLength(input) })
  const fromBytes = await runLineBlock({ module: tasks, name: 'upper', json: false, stopOnError: true, bytes: Buffer.from(input), start: 0, end: Buffer.byteLength(input) })
  for (const { value } of [fromFile, fromBytes]) {
    assert.equal(Buffer.from(value.output).toString(), 'HÉLLO\nWÖRLD\n')
    assert.equal(value.count, 2)
    assert.equal(value.lines, 2)
    assert.equal(value.output.buffer.byteLength, value.output.length, 'the output owns its memory: it is moved')
  }
  assert.equal(fromFile.transferList.length, 1)
  const failing = await runLineBlock({ module: tasks, name: 'failOnSevens', json: false, stopOnError: false, bytes: Buffer.from('item 6\nitem 7\nitem 8\n'), start: 0, end: 21 })
  assert.equal(Buffer.from(failing.value.output).toString(), 'item 6\nitem 8\n')
  assert.deepEqual(
    failing.value.failures?.map((f) => [f.line, f.message]),
    [[2, 'no sevens: 7']],
  )
})

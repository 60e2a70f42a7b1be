// multiproc map over inputs of many blocks: a file read by offset in the
// workers, a stream cut into buffers; line numbers of failures found deep in
// the input, in order and unordered; bytes that are not ASCII.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TASKS, runCli } from './helpers.js'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'multiproc-cli-blocks-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

const N = 60_000
const words = ['naïve', 'straße', '日本語', 'emoji 🙂', 'plain']
const lines = Array.from({ length: N }, (_, i) => `${words[i % words.length]} ${i + 1}`)
// CRLF on some lines, no newline after the last one.
const text = lines.map((l, i) => (i % 3 === 0 ? `${l}\r\n` : `${l}\n`)).join('').replace(/\r?\n$/, '')
const expected = lines.map((l) => `${l.toUpperCase()}\n`).join('')

describe('multiproc map over many blocks', () => {
  for (const backend of ['thread', 'process']) {
    it(`writes a file's lines in order, multi-byte characters and CRLF included [${backend}]`, async () => {
      const input = join(dir, `utf8-${backend}.txt`)
      writeFileSync(input, text)
      const output = join(dir, `utf8-out-${backend}.txt`)
      const r = await runCli(['map', `${TASKS}#upper`, input, '-o', output, '-j', '2', '--backend', backend, '--stats'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(readFileSync(output, 'utf8'), expected)
      assert.match(r.stderr, /multiproc map: 60,000 lines, 0 failed/)
    })
  }

  it('writes stdin\'s lines in order, multi-byte characters and CRLF included', async () => {
    const r = await runCli(['map', `${TASKS}#upper`, '-j', '2'], { input: text })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, expected)
  })

  const json = Array.from({ length: N }, (_, i) => (i % 10 === 9 ? '' : JSON.stringify({ n: i + 1 })))
  json[49_999] = '{not json'
  const good = (upTo: number): string =>
    json
      .slice(0, upTo)
      .filter((l) => l !== '')
      .map((l) => `${JSON.stringify({ ...JSON.parse(l), twice: 2 * JSON.parse(l).n })}\n`)
      .join('')

  for (const source of ['file', 'stdin']) {
    it(`names a failing line deep in the input and writes every line before it [${source}]`, async () => {
      const input = join(dir, `deep-${source}.jsonl`)
      writeFileSync(input, json.join('\n') + '\n')
      const r = source === 'file' ? await runCli(['map', `${TASKS}#double`, '--json', input, '-j', '2']) : await runCli(['map', `${TASKS}#double`, '--json', '-j', '2'], { input: json.join('\n') + '\n' })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /line 50,?000: SyntaxError/)
      assert.equal(r.stdout, good(49_999))
    })
  }

  it('--unordered numbers failing lines of a file right, and writes every other result once', async () => {
    const input = join(dir, 'unordered.txt')
    const items = Array.from({ length: 20_000 }, (_, i) => `item ${i + 1}`)
    writeFileSync(input, items.join('\n') + '\n')
    const r = await runCli(['map', `${TASKS}#failOnSevens`, input, '--unordered', '--on-error', 'log', '-j', '2'])
    assert.equal(r.code, 3)
    const logged = [...r.stderr.matchAll(/line (\d+): RangeError: no sevens: (\d+)\n/g)]
    assert.equal(logged.length, Math.floor(20_000 / 7))
    for (const m of logged) assert.equal(m[1], m[2], 'the line number is the line the failure came from')
    assert.deepEqual(r.stdout.trimEnd().split('\n').sort(), items.filter((_, i) => (i + 1) % 7 !== 0).sort())
  })

  it('--chunksize cuts a file into blocks of that many lines', async () => {
    const input = join(dir, 'chunks.txt')
    writeFileSync(input, 'a\nb\nc\nd\ne\n')
    const r = await runCli(['map', `${TASKS}#upper`, input, '--chunksize', '2', '-j', '2'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'A\nB\nC\nD\nE\n')
  })
})

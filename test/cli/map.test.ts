// multiproc map: order on every backend, unordered, JSON Lines, on-error modes,
// stdin/stdout, slow input, Ctrl-C, bounded memory.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TASKS, numberedLines, runCli, startCli, until } from './helpers.js'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'multiproc-cli-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

function inputFile(name: string, lines: string[]): string {
  const file = join(dir, name)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

for (const backend of ['thread', 'process', 'inline']) {
  describe(`multiproc map --backend ${backend}`, () => {
    it('writes one result per line, in input order, while lines finish out of order', async () => {
      const lines = numberedLines(600)
      const input = inputFile(`in-${backend}.txt`, lines)
      const output = join(dir, `out-${backend}.txt`)
      const r = await runCli(['map', `${TASKS}#jitter`, input, '-o', output, '-j', '2', '--backend', backend, '--chunksize', '3'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(readFileSync(output, 'utf8'), lines.map((l) => `<${l}>\n`).join(''))
      assert.equal(r.stdout, '')
    })
  })
}

describe('multiproc map --concurrent-tasks', () => {
  // `together` answers a line "<key> <n>" only once n lines of its key run at once in its worker.
  const groups = (keys: string[], n: number): string[] => keys.flatMap((k) => Array.from({ length: n }, () => `${k} ${n}`))

  for (const backend of ['thread', 'process', 'inline']) {
    it(`runs the lines of a worker at once, output in input order [${backend}]`, async () => {
      const lines = groups(['a', 'b', 'c'], 4)
      // A file goes one block at a time at first: blocks of 4 lines, each a group.
      const file = await runCli(['map', `${TASKS}#together`, inputFile(`together-${backend}.txt`, lines), '-j', '1', '--backend', backend, '--concurrent-tasks', '4', '--chunksize', '4'], { timeoutMs: 60_000 })
      assert.equal(file.code, 0, file.stderr)
      assert.equal(file.stdout, lines.map((l) => `${l.toUpperCase()}\n`).join(''))
      // A stream: blocks sized by the run, lines of one group in several blocks.
      const stream = await runCli(['map', `${TASKS}#together`, '-j', '1', '--backend', backend, '--concurrent-tasks', '4'], { input: groups(['d', 'e'], 4).join('\n'), timeoutMs: 60_000 })
      assert.equal(stream.code, 0, stream.stderr)
      assert.equal(stream.stdout, groups(['D', 'E'], 4).join('\n') + '\n')
    })
  }

  it('keeps input order while lines finish out of order, over several workers', async () => {
    const lines = numberedLines(400)
    const r = await runCli(['map', `${TASKS}#jitter`, inputFile('concurrent-jitter.txt', lines), '-j', '2', '--concurrent-tasks', '16'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, lines.map((l) => `<${l}>\n`).join(''))
  })

  it('--on-error fail stops at the first failing line in input order, after the lines before it', async () => {
    const lines = numberedLines(50)
    const r = await runCli(['map', `${TASKS}#failOnSevens`, inputFile('concurrent-fail.txt', lines), '--concurrent-tasks', '8', '--chunksize', '20'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /line 7: RangeError: no sevens: 7/)
    assert.equal(r.stdout, lines.slice(0, 6).map((l) => `${l}\n`).join(''))
  })

  it('--on-error skip leaves out every failing line', async () => {
    const lines = numberedLines(50)
    const r = await runCli(['map', `${TASKS}#failOnSevens`, '--on-error', 'skip', '--concurrent-tasks', '8'], { input: lines.join('\n') })
    assert.equal(r.code, 3)
    assert.deepEqual(r.stdout.trimEnd().split('\n'), lines.filter((_, i) => (i + 1) % 7 !== 0))
  })

  it('stops at a crash with a prefix of whole lines in order, naming the first line not written', async () => {
    const lines = numberedLines(600)
    lines[399] = 'crash'
    const r = await runCli(['map', `${TASKS}#crashOn`, inputFile('concurrent-crash.txt', lines), '-j', '2', '--concurrent-tasks', '8'])
    assert.equal(r.code, 1, r.stderr)
    const written = r.stdout === '' ? [] : r.stdout.trimEnd().split('\n')
    // Lines beside the crash fail with it: the output stops at most 8 lines before the culprit.
    assert.ok(written.length <= 399 && written.length >= 399 - 8, `${written.length} lines written`)
    assert.deepEqual(written, lines.slice(0, written.length))
    assert.match(r.stderr, new RegExp(`a worker crashed on line ${written.length + 1} or on a line it ran at the same time \\(up to 8, --concurrent-tasks\\)`))
  })

  it('refuses a bad value, and the nats backend, whose workers are configured where they run', async () => {
    for (const bad of ['0', '-2', '1.5', 'many']) {
      const r = await runCli(['map', `${TASKS}#upper`, `--concurrent-tasks=${bad}`], { input: 'a\n' })
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`)
      assert.match(r.stderr, /Expected `--concurrent-tasks` to be an integer from 1 to 65536/)
    }
    const nats = await runCli(['map', `${TASKS}#upper`, '--backend', 'nats', '--concurrent-tasks', '4'], { input: 'a\n' })
    assert.equal(nats.code, 2, nats.stderr)
    assert.match(nats.stderr, /--concurrent-tasks is for local workers; .*multiproc worker --concurrency/)
  })

  it('is in the help', async () => {
    const r = await runCli(['map', '--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /--concurrent-tasks <n> +lines each worker runs at once/)
  })
})

describe('multiproc map', () => {
  it('reads stdin and writes stdout, keeping empty lines, CRLF and a last line without newline', async () => {
    const r = await runCli(['map', `${TASKS}#upper`], { input: 'one\r\n\ntwo\nthree' })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'ONE\n\nTWO\nTHREE\n')
  })

  it('reads "-" as stdin and writes non-string results as JSON', async () => {
    const r = await runCli(['map', `${TASKS}#length`, '-'], { input: 'a\nbcd\n' })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '1\n3\n')
  })

  it('--unordered writes every result once, in any order', async () => {
    const lines = numberedLines(300)
    const r = await runCli(['map', `${TASKS}#jitter`, '--unordered', '--chunksize', '1', '-j', '2'], { input: lines.join('\n') + '\n' })
    assert.equal(r.code, 0, r.stderr)
    const out = r.stdout.trimEnd().split('\n')
    assert.deepEqual([...out].sort(), lines.map((l) => `<${l}>`).sort())
  })

  it('--json parses each line as JSON, skips blank lines and writes JSON', async () => {
    const r = await runCli(['map', `${TASKS}#double`, '--json'], { input: '{"n":1}\n\n{"n":2}\n  \n{"n":3}\n' })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l)),
      [1, 2, 3].map((n) => ({ n, twice: 2 * n })),
    )
  })

  it('--json reports a line that is not JSON with its line number', async () => {
    const r = await runCli(['map', `${TASKS}#double`, '--json'], { input: '{"n":1}\n{oops\n{"n":3}\n' })
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '{"n":1,"twice":2}\n')
    assert.match(r.stderr, /line 2: SyntaxError/)
  })

  it('--on-error fail (default) stops at the failing line with its number and error, after the lines before it', async () => {
    const lines = numberedLines(50)
    const output = join(dir, 'fail.txt')
    const r = await runCli(['map', `${TASKS}#failOnSevens`, inputFile('fail-in.txt', lines), '-o', output, '--chunksize', '2'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /line 7: RangeError: no sevens: 7/)
    assert.match(r.stderr, /failOnSevens/, 'the stack shows the task')
    assert.equal(readFileSync(output, 'utf8'), lines.slice(0, 6).map((l) => `${l}\n`).join(''))
  })

  it('--on-error skip leaves failing lines out and reports the count (exit 3)', async () => {
    const lines = numberedLines(50)
    const r = await runCli(['map', `${TASKS}#failOnSevens`, '--on-error', 'skip'], { input: lines.join('\n') })
    assert.equal(r.code, 3)
    assert.deepEqual(r.stdout.trimEnd().split('\n'), lines.filter((_, i) => (i + 1) % 7 !== 0))
    assert.doesNotMatch(r.stderr, /line 7:/)
    assert.match(r.stderr, /7 lines of 50 failed and were skipped/)
  })

  it('--on-error log prints each failing line with its number and goes on (exit 3)', async () => {
    const lines = numberedLines(30)
    const r = await runCli(['map', `${TASKS}#failOnSevens`, '--on-error', 'log', '-j', '2', '--chunksize', '4'], { input: lines.join('\n') })
    assert.equal(r.code, 3)
    assert.deepEqual(r.stdout.trimEnd().split('\n'), lines.filter((_, i) => (i + 1) % 7 !== 0))
    for (const n of [7, 14, 21, 28]) assert.match(r.stderr, new RegExp(`line ${n}: RangeError: no sevens: ${n}\\n`))
    assert.match(r.stderr, /4 lines of 30 failed and were logged and left out/)
  })

  it('stops with exit 1 when a worker crashes, after the lines before the crash', async () => {
    const r = await runCli(['map', `${TASKS}#crashOn`, '--chunksize', '1', '-j', '1'], { input: 'a\nb\ncrash\nd\n' })
    assert.equal(r.code, 1)
    assert.equal(r.stdout, 'a\nb\n')
    assert.match(r.stderr, /a worker crashed on line 3: /)
  })

  for (const backend of ['thread', 'process']) {
    it(`names the exact line a worker crashed on and writes every line before it, in chunks [${backend}]`, async () => {
      const lines = numberedLines(3000)
      lines[1999] = 'crash'
      const output = join(dir, `crash-out-${backend}.txt`)
      const r = await runCli(['map', `${TASKS}#crashOn`, inputFile(`crash-in-${backend}.txt`, lines), '-o', output, '-j', '2', '--backend', backend])
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /a worker crashed on line 2,?000: /)
      assert.equal(readFileSync(output, 'utf8'), lines.slice(0, 1999).map((l) => `${l}\n`).join(''))
    })
  }

  it('after a crash that does not happen again, writes the crashed batch and stops after it, saying so', async () => {
    const lines = numberedLines(400)
    const marker = join(dir, 'crash-once.marker')
    lines[99] = `crash-once ${marker}`
    const output = join(dir, 'crash-once-out.txt')
    const r = await runCli(['map', `${TASKS}#crashOnce`, inputFile('crash-once-in.txt', lines), '-o', output, '-j', '1', '--chunksize', '50'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /a worker crashed on one of lines 51-100 \(.*\); run again line by line they finished and are written; the lines after 100 were not run/)
    assert.equal(readFileSync(output, 'utf8'), lines.slice(0, 100).map((l) => `${l}\n`).join(''))
  })

  it('says which task module cannot be imported, and why (TaskImportError)', async () => {
    const r = await runCli(['map', 'test/fixtures/broken_module.ts#never'], { input: 'a\nb\n' })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /multiproc map: Cannot import task module file:.*broken_module\.ts: Error: this module fails to import/)
  })

  it('--progress draws a bar on stderr even when it is not a terminal; --stats sums up', async () => {
    const lines = numberedLines(200)
    const input = inputFile('progress.txt', lines)
    const r = await runCli(['map', `${TASKS}#upper`, input, '--progress', '--stats'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /\r\[#{24}\] 100%  200 lines  [\d,]+ lines\/s  ETA 0:00(  p99 task [\d.]+ m?s)?  \d\.\d\/\d busy/)
    assert.match(r.stderr, /multiproc map: 200 lines, 0 failed, [\d.]+ s, [\d,]+ lines\/s, peak RSS \d+ MB/)
    const quiet = await runCli(['map', `${TASKS}#upper`, input])
    assert.equal(quiet.stderr, '', 'nothing on stderr when it is not a terminal')
  })

  it('writes results while its input is still open (a slow pipe)', async () => {
    const child = startCli(['map', `${TASKS}#upper`, '-j', '2'])
    child.stdin!.write('first\nsecond\nthird\n')
    let out = ''
    child.stdout!.on('data', (d: string) => (out += d))
    const sawAll = await until(() => out === 'FIRST\nSECOND\nTHIRD\n', 60_000)
    child.stdin!.end('fourth\n')
    const r = await child.done
    assert.ok(sawAll, `the first results came before the input ended (got ${JSON.stringify(out)})`)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'FIRST\nSECOND\nTHIRD\nFOURTH\n')
  })

  it('stops on Ctrl-C with exit 130, leaving a prefix of whole lines in order', async () => {
    const lines = numberedLines(5000)
    const output = join(dir, 'sigint.txt')
    const child = startCli(['map', `${TASKS}#slowly`, inputFile('sigint-in.txt', lines), '-o', output, '-j', '2'])
    child.stdin!.end()
    const started = await until(() => existsSync(output) && readFileSync(output, 'utf8').split('\n').length > 5, 60_000)
    child.kill('SIGINT')
    const r = await child.done
    assert.ok(started, 'some output was written before the interrupt')
    assert.equal(r.code, 130, r.stderr)
    assert.match(r.stderr, /interrupted; the output holds the results of [\d,]+ lines/)
    const text = readFileSync(output, 'utf8')
    assert.ok(text.endsWith('\n'), 'whole lines only')
    const got = text.split('\n').slice(0, -1)
    assert.ok(got.length > 0 && got.length < lines.length, `a strict prefix (${got.length} lines)`)
    assert.deepEqual(got, lines.slice(0, got.length))
  })

  it('stops on Ctrl-C while waiting for more input', async () => {
    const child = startCli(['map', `${TASKS}#upper`])
    let out = ''
    child.stdout!.on('data', (d: string) => (out += d))
    child.stdin!.write('only line\n') // and the pipe stays open
    const answered = await until(() => out === 'ONLY LINE\n', 60_000)
    child.kill('SIGINT')
    const r = await child.done
    assert.ok(answered, 'the line was processed while the input stayed open')
    assert.equal(r.code, 130, r.stderr)
    assert.equal(r.stdout, 'ONLY LINE\n')
    assert.match(r.stderr, /interrupted; the output holds the results of 1 line\n/)
  })

  it('streams an input larger than its heap could hold', async () => {
    // 8 MB of short lines: held as strings and results they take far more than
    // the 32 MB heap this run gets (the control below shows it). Streaming needs
    // about 16 MB; the other half is room for a garbage collector that falls
    // behind on a loaded machine (at 20 MB the run ran out of heap under load).
    const lines = Array.from({ length: 300_000 }, (_, i) => `line ${i + 1} of a large input`)
    const input = inputFile('large.txt', lines)
    const output = join(dir, 'large-out.txt')
    const env = { NODE_OPTIONS: '--max-old-space-size=32' }
    const r = await runCli(['map', `${TASKS}#upper`, input, '-o', output, '-j', '2'], { env, timeoutMs: 110_000 })
    assert.equal(r.code, 0, r.stderr)
    const out = readFileSync(output, 'utf8')
    assert.equal(out.length, lines.reduce((n, l) => n + l.length + 1, 0))
    assert.ok(out.startsWith('LINE 1 OF A LARGE INPUT\nLINE 2 OF'))
    assert.ok(out.endsWith('LINE 300000 OF A LARGE INPUT\n'))

    // Control: the same work holding the whole input fails under the same limit.
    const control = spawnSync(process.execPath, ['-e', `const fs = require('fs'); const out = fs.readFileSync(${JSON.stringify(input)}, 'utf8').split('\\n').map((l) => l.toUpperCase()); console.log(out.length)`], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.notEqual(control.status, 0, 'holding the whole input does not fit in the heap')
  })
})

// multiproc info, bench, help, --version, and bad arguments (exit code 2).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { readFileSync, existsSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { TASKS, runCli } from './helpers.js'
import { benchRows, renderChart, serialFraction } from '../../src/cli/bench.js'
import { progressLine } from '../../src/progress_bar.js'

describe('multiproc info', () => {
  it('reports cpuCount and the limit that decided it, the backends and NATS (JSON)', async () => {
    const r = await runCli(['info', '--json', '--nats', 'nats://127.0.0.1:1', '--timeout', '2000'], { env: { MULTIPROC_CPU_COUNT: '3' } })
    assert.equal(r.code, 0, r.stderr)
    const info = JSON.parse(r.stdout)
    assert.equal(info.cpu.count, 3)
    assert.equal(info.cpu.decidedBy, 'env')
    assert.ok(info.cpu.affinity >= 1)
    assert.deepEqual(
      info.backends.map((b: { name: string }) => b.name),
      ['thread', 'process', 'inline', 'nats'],
    )
    assert.equal(info.nats.reachable, false)
    assert.equal(info.nats.url, 'nats://127.0.0.1:1')
  })

  it('says a NATS server is reachable when one sends its INFO line', async () => {
    const server = createServer((socket) => socket.end('INFO {"server_id":"x","version":"9.9.9","jetstream":true}\r\n'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    try {
      const r = await runCli(['info', '--nats', `nats://127.0.0.1:${port}`])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^cpuCount\(\)\s+\d+, decided by /m)
      assert.match(r.stdout, /^backend thread\s+available/m)
      assert.match(r.stdout, new RegExp(`^nats\\s+nats://127.0.0.1:${port} reachable, server 9.9.9, JetStream on$`, 'm'))
    } finally {
      server.close()
    }
  })

  it('says a server that does not speak NATS is not one', async () => {
    const server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    try {
      const r = await runCli(['info', '--json', '--nats', `127.0.0.1:${port}`])
      assert.equal(JSON.parse(r.stdout).nats.reachable, false)
      assert.match(JSON.parse(r.stdout).nats.error, /not a NATS server/)
    } finally {
      server.close()
    }
  })
})

describe('multiproc bench', () => {
  it('runs the built-in pi task on 1..N workers and prints the table and the chart', async () => {
    const r = await runCli(['bench', '-j', '2', '--items', '4', '--intervals', '200000'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /pi by the midpoint rule, 200,000 intervals in 4 items/)
    assert.match(r.stdout, /workers\s+time\s+speedup\s+efficiency\s+serial fraction\s+p99 item\s+workers busy/)
    assert.match(r.stdout, /^\s+1\s+[\d.]+ m?s\s+1\.00x\s+100%\s+-\s+[\d.]+ m?s\s+\d+%$/m)
    assert.match(r.stdout, /^\s+2\s+[\d.]+ m?s\s+[\d.]+x\s+\d+%\s+-?[\d.]+\s+[\d.]+ m?s\s+\d+%$/m)
    assert.match(r.stdout, /^speedup \(# measured, \. ideal\)$/m)
    assert.match(r.stdout, /^2 \| #+\.* [\d.]+x$/m)
  })

  it('runs a task of your own, called with each item index', async () => {
    const r = await runCli(['bench', `${TASKS}#length`, '-j', '1', '--items', '3', '--backend', 'process'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /cli_tasks\.ts#length in 3 items, process backend/)
  })

  it('computes speedup, efficiency and the Karp-Flatt serial fraction', () => {
    const rows = benchRows([
      { workers: 1, ms: 1000 },
      { workers: 2, ms: 600 },
      { workers: 4, ms: 400 },
    ])
    assert.equal(rows[1]!.speedup.toFixed(4), (1000 / 600).toFixed(4))
    assert.equal(rows[2]!.efficiency, 2.5 / 4)
    // A serial fraction f gives speedup 1 / (f + (1 - f) / p): the estimate gives f back.
    const f = 0.1
    const s = 1 / (f + (1 - f) / 8)
    assert.ok(Math.abs(serialFraction(s, 8) - f) < 1e-12)
    assert.ok(Number.isNaN(serialFraction(1, 1)))
    assert.match(renderChart(rows, 8), /^4 \| #####\.\.\. 2\.50x$/m)
  })
})

describe('progress line', () => {
  it('shows a bar, rate, ETA and failures when the size is known; elapsed time when it is not', () => {
    assert.equal(progressLine({ items: 500, failed: 2, fraction: 0.25 }, 2000, 'lines'), '[######..................]  25%  500 lines  250 lines/s  ETA 0:06  2 failed')
    assert.equal(progressLine({ items: 1500, failed: 0, fraction: NaN }, 3000, 'lines'), '1,500 lines  500 lines/s  elapsed 0:03')
    assert.equal(progressLine({ items: 10, failed: 0, fraction: NaN }, 1000, 'files', { p99: 12.34, busy: 1.5, workers: 2 }), '10 files  10 files/s  elapsed 0:01  p99 task 12 ms  1.5/2 busy')
  })
})

describe('multiproc help and bad arguments', () => {
  it('prints help and the version', async () => {
    const help = await runCli(['--help'])
    assert.equal(help.code, 0)
    for (const command of ['map', 'bench', 'worker', 'status', 'info', 'help']) assert.match(help.stdout, new RegExp(`^  ${command}\\s`, 'm'))
    const mapHelp = await runCli(['help', 'map'])
    assert.equal(mapHelp.code, 0)
    assert.match(mapHelp.stdout, /--on-error <mode>/)
    const version = await runCli(['--version'])
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version)
    const none = await runCli([])
    assert.equal(none.code, 2)
    assert.match(none.stdout, /Usage: multiproc <command>/)
  })

  const cases: [string, string[], RegExp][] = [
    ['an unknown command', ['frobnicate'], /unknown command "frobnicate" \(commands: map, bench, worker, status, info\)/],
    ['a missing task', ['map'], /missing the task, as <module>#<export>/],
    ['an unknown option', ['map', `${TASKS}#upper`, '--colour'], /multiproc map: Unknown option '--colour'/],
    ['a bad --jobs', ['map', `${TASKS}#upper`, '-j', 'two'], /Expected `--jobs` to be an integer from 1 to 1024, got "two"/],
    ['a bad --chunksize', ['map', `${TASKS}#upper`, '--chunksize', '0'], /Expected `--chunksize` to be an integer from 1/],
    ['an unknown backend', ['map', `${TASKS}#upper`, '--backend', 'gpu'], /Expected `--backend` to be one of thread, process, inline, nats, got "gpu"/],
    ['a bad --on-error', ['map', `${TASKS}#upper`, '--on-error', 'ignore'], /Expected `--on-error` to be one of fail, skip, log/],
    ['a missing module', ['map', 'no/such/module.ts#f'], /Cannot find the task module "no\/such\/module.ts"/],
    ['an empty export name', ['map', `${TASKS}#`], /Expected an export name after "#"/],
    ['a missing input file', ['map', `${TASKS}#upper`, 'no-such-input.txt'], /cannot read no-such-input.txt: ENOENT/],
    ['an export that does not exist', ['map', `${TASKS}#nope`], /has no export named `nope` \(its exported functions: .*upper/],
    ['an export that is not a function', ['map', `${TASKS}#notAFunction`], /is not a function but number/],
    ['--nats without --backend nats', ['map', `${TASKS}#upper`, '--nats', 'nats://x'], /--nats needs --backend nats/],
    ['too many arguments', ['map', `${TASKS}#upper`, 'a', 'b'], /unexpected argument "b"/],
    ['a bad bench option', ['bench', '--items=-1'], /Expected `--items` to be an integer from 1/],
    ['an info positional', ['info', 'extra'], /multiproc info: unexpected argument "extra"/],
    ['an unknown status option', ['status', '--bogus'], /multiproc status: Unknown argument --bogus/],
    ['a worker option given to status', ['status', '--concurrency', '2'], /multiproc status: Unknown argument --concurrency/],
    ['a bad --watch', ['status', '--watch=fast'], /Expected `--watch` to be an integer from 100/],
    ['--count without --watch', ['status', '--count', '3'], /--count goes with --watch/],
    ['a bad worker --metrics', ['worker', '--allow', TASKS, '--metrics', 'port'], /--metrics needs a port or host:port, got port/],
  ]
  for (const [what, args, message] of cases) {
    it(`exits with 2 and a clear message on ${what}`, async () => {
      const r = await runCli(args, { input: 'x\n' })
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`)
      assert.match(r.stderr, message)
      assert.equal(r.stdout, '')
    })
  }
})

// The built command (npm run build, as CI does before the tests): a plain
// JavaScript program that still runs TypeScript task modules.
const built = 'dist/cli/main.js'
const fresh = existsSync(built) && statSync(built).mtimeMs >= statSync('src/cli/map.ts').mtimeMs
describe('the built multiproc command', { skip: fresh ? false : 'dist/ is not built or older than src/cli' }, () => {
  for (const backend of ['thread', 'process', 'inline']) {
    it(`runs a TypeScript task module from dist on the ${backend} backend`, () => {
      const r = spawnSync(process.execPath, [built, 'map', `${TASKS}#upper`, '--backend', backend, '-j', '2'], { input: 'a\nb\n', encoding: 'utf8', timeout: 90_000 })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'A\nB\n')
    })
  }
  it('is executable, with a shebang', () => {
    assert.ok(readFileSync(built, 'utf8').startsWith('#!/usr/bin/env node\n'))
    assert.ok((statSync(built).mode & 0o111) !== 0)
  })
})

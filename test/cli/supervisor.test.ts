// The supervisor of `multiproc worker` (src/cli/supervisor.ts) on small
// child programs: restarts with a doubling delay that starts over after a
// healthy run, a crash loop said clearly, codes that end it, and stopping:
// SIGTERM to the child, its exit code passed on, SIGKILL on a second stop
// or past the stop timeout.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RestartBackoff, Supervisor, describeEnd, exitCodeOf, type SupervisorOptions } from '../../src/cli/supervisor.js'
import { parseWorkerArgs } from '../../src/cli/worker.js'

/** A supervisor of `node -e program`, its log lines collected. */
function supervise(program: string, options: Partial<SupervisorOptions> = {}): { supervisor: Supervisor; lines: string[] } {
  const lines: string[] = []
  const supervisor = new Supervisor({
    command: process.execPath,
    args: ['-e', program],
    name: 'child',
    log: (line) => lines.push(line),
    initialDelay: 20,
    maxDelay: 80,
    healthyAfter: 60_000,
    stopTimeout: 10_000,
    ...options,
  })
  supervisor.start()
  return { supervisor, lines }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const dir = mkdtempSync(join(tmpdir(), 'multiproc-supervisor-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let marks = 0

/** A child program that sets its SIGTERM handler, then creates a file (`up()` waits for it) and waits. */
function handlesSigterm(handler: string): { program: string; up: () => Promise<void> } {
  const file = join(dir, `up-${marks++}`)
  return {
    program: `process.on('SIGTERM', ${handler}); require('node:fs').writeFileSync(${JSON.stringify(file)}, ''); setInterval(() => {}, 1000)`,
    up: () => until(() => existsSync(file), 10_000, 'the child to set its handler'),
  }
}

describe('RestartBackoff', () => {
  it('doubles the delay per quick death up to the cap, and starts over after a healthy run', () => {
    const backoff = new RestartBackoff(200, 1_000, 30_000)
    assert.deepEqual([0, 0, 0, 0, 0].map(() => backoff.next(100)), [200, 400, 800, 1_000, 1_000])
    assert.equal(backoff.streak, 5)
    assert.equal(backoff.next(30_000), 200, 'a run of healthyAfter resets it')
    assert.equal(backoff.streak, 1)
    assert.equal(backoff.next(10), 400)
  })

  it('names how a child ended and the exit code a shell would report', () => {
    assert.equal(describeEnd(1, null), 'exit code 1')
    assert.equal(describeEnd(null, 'SIGKILL'), 'killed by SIGKILL')
    assert.equal(exitCodeOf(3, null), 3)
    assert.equal(exitCodeOf(null, 'SIGKILL'), 137)
    assert.equal(exitCodeOf(null, 'SIGTERM'), 143)
  })
})

describe('Supervisor', () => {
  it('restarts a child that keeps dying, backing off, and says it is a crash loop', async () => {
    const { supervisor, lines } = supervise('process.exit(1)', { maxDelay: 2_000 })
    // Delays 20, 40, 80, 160, 320, 640 ms: stopped in the last one, while no child runs.
    await until(() => lines.filter((l) => /restarting in/.test(l)).length === 6, 20_000, 'six deaths')
    supervisor.stop('SIGTERM')
    assert.equal(await supervisor.exited, 0, 'stopped while it waited to restart: 0')
    const deaths = lines.filter((l) => /ended \(exit code 1\)/.test(l))
    assert.match(deaths[0]!, /^child \d+ ended \(exit code 1\) after [\d.]+ s; restarting in 0\.0 s$/)
    assert.match(deaths[2]!, /Crash loop: it died 3 times in a row, each within 60 s of its start \(its output above says why\); restarting in 0\.1 s, waiting up to 2\.0 s between attempts/)
    assert.ok(lines.some((l) => /^child \d+ started \(start 2\); supervisor pid \d+$/.test(l)), lines.join('\n'))
  })

  it('starts the delay over after a healthy run', async () => {
    const { supervisor, lines } = supervise('setTimeout(() => process.exit(1), 150)', { initialDelay: 200, maxDelay: 5_000, healthyAfter: 100 })
    await until(() => supervisor.starts >= 4, 20_000, 'four starts')
    supervisor.stop('SIGTERM')
    await supervisor.exited
    const delays = lines.filter((l) => /restarting in/.test(l)).map((l) => /restarting in ([\d.]+) s/.exec(l)![1])
    assert.deepEqual(delays.slice(0, 3), ['0.2', '0.2', '0.2'], 'each run was healthy: no back-off')
    assert.ok(!lines.some((l) => /Crash loop/.test(l)))
  })

  it('ends with the code of a child that exits 0 (stopped on purpose) or 2 (bad arguments), without a restart', async () => {
    for (const code of [0, 2]) {
      const { supervisor, lines } = supervise(`process.exit(${code})`)
      assert.equal(await supervisor.exited, code)
      assert.equal(supervisor.starts, 1)
      assert.match(lines.at(-1)!, /not restarted/)
    }
  })

  it("stop() sends the child SIGTERM and ends with the child's exit code", async () => {
    const child = handlesSigterm('() => setTimeout(() => process.exit(3), 50)')
    const { supervisor, lines } = supervise(child.program)
    await child.up()
    supervisor.stop('SIGTERM')
    assert.equal(await supervisor.exited, 3)
    assert.equal(supervisor.starts, 1, 'not restarted')
    assert.match(lines.at(-1)!, /^SIGTERM: stopping child \d+$/)
  })

  it('a second stop() kills the child at once; a child that ignores SIGTERM is killed after the stop timeout', async () => {
    const first = handlesSigterm('() => {}')
    const twice = supervise(first.program)
    await first.up()
    twice.supervisor.stop('SIGINT')
    twice.supervisor.stop('SIGINT')
    assert.equal(await twice.supervisor.exited, 137)
    assert.match(twice.lines.at(-1)!, /^SIGINT again: killing child \d+ now$/)

    const second = handlesSigterm('() => {}')
    const slow = supervise(second.program, { stopTimeout: 300 })
    await second.up()
    slow.supervisor.stop('SIGTERM')
    assert.equal(await slow.supervisor.exited, 137)
    assert.match(slow.lines.at(-1)!, /still running 0\.3 s after SIGTERM: killing it$/)
  })
})

describe('Supervisor with a ready line', () => {
  it('a first child that dies before its ready line ends the supervision with its code: it could not start at all', async () => {
    const output = new PassThrough()
    const { supervisor, lines } = supervise("process.stdout.write('starting\\n'); process.exit(1)", { readyPattern: /^READY$/m, output })
    assert.equal(await supervisor.exited, 1)
    assert.equal(supervisor.starts, 1)
    assert.match(lines.at(-1)!, /^child \d+ ended \(exit code 1\) after [\d.]+ s before it was ready: not restarted \(it never started; its output above says why\)$/)
    assert.equal(output.read()?.toString(), 'starting\n', "the child's stdout passes through")
  })

  it('a child that was ready once is restarted, also when a later one dies before its ready line', async () => {
    const output = new PassThrough()
    const marker = join(dir, 'ready-once')
    // The first child prints the ready line and dies; the next ones die before printing it.
    const program = `const fs = require('node:fs'); if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); process.stdout.write('READY\\n') } setTimeout(() => process.exit(1), 20)`
    const { supervisor } = supervise(program, { readyPattern: /^READY$/m, output })
    await until(() => supervisor.starts >= 3, 20_000, 'three starts')
    supervisor.stop('SIGTERM')
    await supervisor.exited
    assert.equal(output.read()?.toString(), 'READY\n')
  })
})

describe('multiproc worker --supervise / --no-supervise', () => {
  it('supervises by default; --no-supervise runs the worker in the process; neither takes a value', () => {
    assert.equal(parseWorkerArgs(['--allow', 'x.js']).supervise, true)
    assert.equal(parseWorkerArgs(['--allow', 'x.js', '--no-supervise']).supervise, false)
    assert.equal(parseWorkerArgs(['--no-supervise', '--allow', 'x.js', '--supervise']).supervise, true, 'the last one wins')
    assert.throws(() => parseWorkerArgs(['--allow', 'x.js', '--no-supervise=1']), /--no-supervise takes no value/)
  })

  it('--restart-delay and --max-restart-delay set the backoff, and the supervised child does not get them', () => {
    const parsed = parseWorkerArgs(['--restart-delay', '50', '--allow', 'a.js', 'b.js', '--max-restart-delay=400', '--supervise', '--concurrency', '2'])
    assert.deepEqual(parsed.restart, { initialDelay: 50, maxDelay: 400 })
    assert.deepEqual(parsed.childArgv, ['--allow', 'a.js', 'b.js', '--concurrency', '2'])
    assert.deepEqual(parseWorkerArgs(['--allow', 'a.js']).restart, {}, 'absent: the supervisor keeps its defaults')
    assert.deepEqual(parseWorkerArgs(['--allow', 'a.js', '--max-restart-delay', '300']).restart, { maxDelay: 300 })
    assert.throws(() => parseWorkerArgs(['--allow', 'a.js', '--restart-delay', '0']), /--restart-delay needs a positive integer, got 0/)
    assert.throws(() => parseWorkerArgs(['--allow', 'a.js', '--restart-delay', '5000', '--max-restart-delay', '1000']), /--restart-delay \(5000 ms\) is more than --max-restart-delay \(1000 ms\): lower the one or raise the other/)
    assert.throws(() => parseWorkerArgs(['--allow', 'a.js', '--max-restart-delay', '100']), /--restart-delay \(its default 200 ms\) is more than --max-restart-delay \(100 ms\)/, 'against the default first delay')
    assert.throws(() => parseWorkerArgs(['--allow', 'a.js', '--no-supervise', '--restart-delay', '50']), /do not go with --no-supervise/)
  })
})

// The command line on the cluster: a worker started through `multiproc
// worker` (src/cli/main.ts), `multiproc map --backend nats` running the
// user's function on it in input order, and the worker's allowlist applied
// to the module a map names.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { ModuleNotAllowedError, NatsExecutor, task } from '../../src/index.js'
import { rejection, root } from '../helpers.js'
import { CLI, TASKS, runCli } from '../cli/helpers.js'
import { TestServer } from './cluster.js'

const REMOTE = 'test/fixtures/cli_remote.mjs'

/** `multiproc worker ...` through the real entry; resolves once it printed its ready line. */
function startCliWorker(args: string[]): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', ...args], {
    cwd: root,
    // The worker exits when this pipe closes: no orphan if the test process dies.
    env: { ...process.env, MULTIPROC_WORKER_STDIN_WATCH: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d))
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready after 60 s:\n${output}`)), 60_000)
    child.stdout!.on('data', () => {
      if (/multiproc worker ready/.test(output)) (clearTimeout(timer), resolve())
    })
    child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${output}`))))
  })
  ready.catch(() => {})
  return { child, ready, output: () => output }
}

describe('multiproc worker through main.ts', () => {
  it('prints its usage for --help and for `help worker`, exit 0', async () => {
    for (const args of [['worker', '--help'], ['help', 'worker']]) {
      const r = await runCli(args)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^Usage: multiproc worker --nats <url> --allow <module>\.\.\./)
      assert.match(r.stdout, /--concurrency <n>/)
    }
  })

  it('exits with 2 and says so when --allow is missing', async () => {
    const r = await runCli(['worker', '--nats', 'nats://127.0.0.1:1'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--allow needs at least one module/)
  })
})

describe('multiproc map --backend nats', () => {
  let server: TestServer
  let worker: ReturnType<typeof startCliWorker>

  before(async () => {
    server = await TestServer.start()
    worker = startCliWorker(['--nats', server.url, '--allow', TASKS, REMOTE, '--concurrency', '2'])
    await worker.ready
  })
  after(async () => {
    if (worker !== undefined && worker.child.exitCode === null && worker.child.signalCode === null) {
      const exited = new Promise((r) => worker.child.once('exit', r))
      worker.child.kill('SIGKILL')
      await exited
    }
    await server?.stop()
  })

  const natsArgs = (): string[] => ['--backend', 'nats', '--nats', server.url]

  it('runs the lines on the cluster worker and writes the results in input order', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `item ${i}`)
    // Small batches so that many are in flight at once and finish out of order.
    const r = await runCli(['map', `${TASKS}#jitter`, ...natsArgs(), '--chunksize', '7', '-j', '4'], { input: lines.join('\n') + '\n' })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, lines.map((l) => `<${l}>\n`).join(''))
  })

  it('the lines run in the worker process, not in the command', async () => {
    const r = await runCli(['map', `${REMOTE}#tagPid`, ...natsArgs(), '--chunksize', '3'], { input: 'a\nb\nc\nd\ne\n' })
    assert.equal(r.code, 0, r.stderr)
    const out = r.stdout.trimEnd().split('\n')
    assert.deepEqual(out.map((l) => l.split(' ')[0]), ['a', 'b', 'c', 'd', 'e'])
    // Supervised (the default): the worker is a child process of the command, named in its ready line.
    const workerPid = Number(/multiproc worker ready: nats worker [^\s,]*:(\d+),/.exec(worker.output())?.[1])
    assert.notEqual(workerPid, worker.child.pid)
    for (const l of out) assert.equal(Number(l.split(' ')[1]), workerPid)
  })

  it('JSON Lines and failing lines behave as on the local backends', async () => {
    const json = await runCli(['map', `${TASKS}#double`, ...natsArgs(), '--json'], { input: '{"n":1}\n{"n":2}\n' })
    assert.equal(json.code, 0, json.stderr)
    assert.equal(json.stdout, '{"n":1,"twice":2}\n{"n":2,"twice":4}\n')
    const input = Array.from({ length: 10 }, (_, i) => `item ${i + 1}`).join('\n') + '\n'
    const skipped = await runCli(['map', `${TASKS}#failOnSevens`, ...natsArgs(), '--on-error', 'skip'], { input })
    assert.equal(skipped.code, 3, skipped.stderr)
    assert.equal(skipped.stdout.split('\n').filter(Boolean).length, 9)
  })

  it('a module not on the worker allowlist fails with ModuleNotAllowedError and exit code 1, nothing written', async () => {
    const r = await runCli(['map', 'test/fixtures/plain.mjs#triple', ...natsArgs()], { input: '1\n2\n' })
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /ModuleNotAllowedError: Module file:\/\/\S*\/test\/fixtures\/plain\.mjs is not on the allowlist of nats worker/)
    assert.match(r.stderr, /--allow \S*\/test\/fixtures\/plain\.mjs/)
  })

  it('of the library, the worker runs listed tasks only, and checks the module a line job names', async () => {
    await using ex = new NatsExecutor({ servers: server.url })
    const internal = task(new URL('../../src/backends/nats/run_task.ts', import.meta.url), 'runUnits')
    const refused = await rejection(ex.submit(internal, 'file:///etc/x.js', 'f', 0, [], false))
    assert.ok(refused instanceof ModuleNotAllowedError, String(refused))
    assert.match(refused.message, /multiproc:backends\/nats\/run_task\.js#runUnits is not a library task that nats worker/)
    const lineTask = task(new URL('../../src/cli/line_task.ts', import.meta.url), 'runLineBatch')
    const job = (module: unknown) => ({ module, name: 'upper', json: false, stopOnError: true, first: 1, lines: ['a'] })
    const ok = await ex.submit(lineTask, job(new URL(`../../${TASKS}`, import.meta.url).href) as never)
    assert.equal(ok.text, 'A\n')
    for (const module of [new URL('../fixtures/plain.mjs', import.meta.url).href, 'multiproc:backends/nats/run_task.js', 42]) {
      const error = await rejection(ex.submit(lineTask, job(module) as never))
      assert.ok(error instanceof ModuleNotAllowedError, `${String(module)}: ${String(error)}`)
    }
    const internal2 = await rejection(ex.submit(lineTask, job('multiproc:manager/server_entry.js') as never))
    assert.match(String(internal2), /Library module multiproc:manager\/server_entry\.js is neither a user module nor one that defines a shareable type/)
  })
})

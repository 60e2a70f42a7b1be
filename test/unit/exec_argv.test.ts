// The Node options a worker inherits: workerExecArgv() and threadLoaderSetup().
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startWithExecArgv, threadLoaderSetup, workerExecArgv } from '../../src/backends/exec_argv.js'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'

describe('workerExecArgv()', () => {
  const kept = ['--enable-source-maps', '--max-old-space-size=128', '--no-warnings', '--experimental-vm-modules', '--conditions', 'development']

  it('keeps loaders and language flags, in order', () => {
    const argv = ['--import', 'tsx', '--require', './setup.cjs', ...kept, '--loader=./hooks.mjs']
    assert.deepEqual(workerExecArgv(argv), argv)
  })

  it('an empty argv gives an empty argv, and the input is not modified', () => {
    assert.deepEqual(workerExecArgv([]), [])
    const argv = ['--inspect', '--enable-source-maps']
    const copy = [...argv]
    workerExecArgv(argv)
    assert.deepEqual(argv, copy)
  })

  const dropped: [string, string[]][] = [
    ['--inspect', ['--inspect']],
    ['--inspect=port', ['--inspect=9229']],
    ['--inspect=host:port', ['--inspect=0.0.0.0:9229']],
    ['--inspect-brk', ['--inspect-brk']],
    ['--inspect-brk=port', ['--inspect-brk=9230']],
    ['--inspect-wait', ['--inspect-wait']],
    ['--inspect-port with its value', ['--inspect-port', '9231']],
    ['--inspect-port=value', ['--inspect-port=9231']],
    ['--debug-port with its value', ['--debug-port', '9232']],
    ['--cpu-prof', ['--cpu-prof']],
    ['--cpu-prof-dir with its value', ['--cpu-prof-dir', '/tmp/prof']],
    ['--cpu-prof-dir=value', ['--cpu-prof-dir=/tmp/prof']],
    ['--cpu-prof-name with its value', ['--cpu-prof-name', 'main.cpuprofile']],
    ['--cpu-prof-interval=value', ['--cpu-prof-interval=500']],
    ['--heap-prof and --heap-prof-dir with its value', ['--heap-prof', '--heap-prof-dir', '/tmp/heap']],
    ['--heap-prof-name with its value', ['--heap-prof-name', 'h.heapprofile']],
    ['--prof', ['--prof']],
    ['--title with its value', ['--title', 'my-app']],
    ['--title=value', ['--title=my-app']],
    ['--test', ['--test']],
    ['--test-only', ['--test-only']],
    ['--test-reporter with its value', ['--test-reporter', 'spec']],
    ['--test-reporter=value', ['--test-reporter=tap']],
    ['--test-reporter-destination with its value', ['--test-reporter-destination', 'stdout']],
    ['--test-name-pattern with its value', ['--test-name-pattern', 'map']],
    ['--test-concurrency with its value', ['--test-concurrency', '2']],
    ['--test-timeout with its value', ['--test-timeout', '120000']],
    ['--test-timeout=value', ['--test-timeout=120000']],
    ['--experimental-test-coverage', ['--experimental-test-coverage']],
    ['--watch', ['--watch']],
    ['--watch-path with its value', ['--watch-path', 'src']],
    ['--watch-preserve-output', ['--watch-preserve-output']],
  ]
  for (const [label, flags] of dropped) {
    it(`drops ${label}`, () => {
      assert.deepEqual(workerExecArgv(['--enable-source-maps', ...flags, '--import', 'tsx']), ['--enable-source-maps', '--import', 'tsx'])
    })
  }

  it('drops several process-only flags among kept ones', () => {
    const argv = [
      '--inspect-brk=9229',
      '--import',
      'tsx',
      '--title',
      'app',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--max-old-space-size=64',
      '--cpu-prof',
      '--cpu-prof-dir',
      'prof',
      '--test-concurrency=2',
    ]
    assert.deepEqual(workerExecArgv(argv), ['--import', 'tsx', '--max-old-space-size=64'])
  })

  it('a value-taking flag at the very end drops only itself', () => {
    assert.deepEqual(workerExecArgv(['--import', 'tsx', '--title']), ['--import', 'tsx'])
  })

  it('a flag written with = does not swallow the next argument', () => {
    assert.deepEqual(workerExecArgv(['--title=x', '--enable-source-maps']), ['--enable-source-maps'])
    assert.deepEqual(workerExecArgv(['--inspect-port=1', '--no-warnings']), ['--no-warnings'])
  })

  it('flags that merely start like a process-only one are kept', () => {
    const argv = ['--testing', '--inspector-is-not-a-flag', '--titlecase', '--profile-like', '--watcher']
    assert.deepEqual(workerExecArgv(argv), argv)
  })

  it(
    'drops the separate value of every value-taking process-only flag',
    () => {
      for (const flags of [
        ['--cpu-prof', '--cpu-prof-interval', '500'],
        ['--heap-prof', '--heap-prof-interval', '1024'],
        ['--test-shard', '1/3'],
      ]) {
        assert.deepEqual(workerExecArgv(['--no-warnings', ...flags]), ['--no-warnings'], flags.join(' '))
      }
    },
  )

  it('defaults to process.execArgv, without the test runner and inspector flags', () => {
    const out = workerExecArgv()
    assert.ok(Array.isArray(out))
    for (const arg of out) assert.doesNotMatch(arg, /^--(test|inspect|title|watch)(\b|-|=)/)
    assert.deepEqual(out, workerExecArgv(process.execArgv))
  })
})

describe('threadLoaderSetup()', () => {
  // The tsx root is looked up once per process; the first call below finds the real one.
  const tsxRoot = dirname(createRequire(join(process.cwd(), 'noop.js')).resolve('tsx/package.json'))
  const loaderUrl = pathToFileURL(join(tsxRoot, 'dist/loader.mjs')).href

  before(() => {
    threadLoaderSetup(['--import', 'tsx'])
  })

  it('removes the tsx loader flags and returns the tsx register modules instead', () => {
    const setup = threadLoaderSetup(['--import', 'tsx', '--enable-source-maps'])
    assert.deepEqual(setup.execArgv, ['--enable-source-maps'])
    assert.deepEqual(setup.registerModules, [
      pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href,
      pathToFileURL(join(tsxRoot, 'dist/cjs/api/index.mjs')).href,
    ])
  })

  it('the register modules exist and export register()', async () => {
    const { registerModules } = threadLoaderSetup(['--import', 'tsx'])
    assert.equal(registerModules.length, 2)
    for (const url of registerModules) {
      assert.ok(existsSync(fileURLToPath(url)), url)
      const api = (await import(url)) as { register?: unknown }
      assert.equal(typeof api.register, 'function', url)
    }
  })

  const tsxForms: [string, string[]][] = [
    ['--import tsx', ['--import', 'tsx']],
    ['--import=tsx', ['--import=tsx']],
    ['--import tsx/esm', ['--import', 'tsx/esm']],
    ['--loader tsx', ['--loader', 'tsx']],
    ['--experimental-loader=tsx/esm', ['--experimental-loader=tsx/esm']],
    ['--require tsx/cjs', ['--require', 'tsx/cjs']],
    ['-r tsx/cjs', ['-r', 'tsx/cjs']],
    ['--require=tsx/cjs', ['--require=tsx/cjs']],
    ['--import with the loader file URL', ['--import', loaderUrl]],
    ['--import= with the loader path', [`--import=${join(tsxRoot, 'dist/loader.mjs')}`]],
  ]
  for (const [label, flags] of tsxForms) {
    it(`removes ${label}`, () => {
      const setup = threadLoaderSetup(['--no-warnings', ...flags, '--conditions', 'dev'])
      assert.deepEqual(setup.execArgv, ['--no-warnings', '--conditions', 'dev'])
      assert.equal(setup.registerModules.length, 2)
    })
  }

  it('keeps other loaders and preloads', () => {
    const argv = ['--import', './instrument.mjs', '--require', 'dotenv/config', '--loader=./hooks.mjs', '--import', 'tsx']
    assert.deepEqual(threadLoaderSetup(argv).execArgv, ['--import', './instrument.mjs', '--require', 'dotenv/config', '--loader=./hooks.mjs'])
  })

  it('a package whose name merely contains tsx is not taken for tsx', () => {
    const argv = ['--import', 'tsx-helpers', '--import', 'my-tsx/register']
    assert.deepEqual(threadLoaderSetup(argv).execArgv, argv)
  })

  it('filters process-only flags first', () => {
    const setup = threadLoaderSetup(['--inspect', '--import', 'tsx', '--test-reporter', 'spec', '--max-old-space-size=64'])
    assert.deepEqual(setup.execArgv, ['--max-old-space-size=64'])
  })

  it('sources run as TypeScript: register modules even without a tsx flag in argv', () => {
    // This module itself is TypeScript, so a TypeScript loader is active.
    const setup = threadLoaderSetup(['--enable-source-maps'])
    assert.deepEqual(setup.execArgv, ['--enable-source-maps'])
    assert.equal(setup.registerModules.length, 2)
  })
})

describe('startWithExecArgv()', () => {
  const refuse = (flags: string[]): Error =>
    Object.assign(new TypeError(`Initiated Worker with invalid execArgv flags: ${flags.join(', ')}`), { code: 'ERR_WORKER_INVALID_EXEC_ARGV' })

  it('leaves out the flags the Worker names, keeps the rest in order, and remembers them', () => {
    const calls: string[][] = []
    const start = (argv: string[]): string[] => {
      calls.push(argv)
      const bad = argv.filter((a) => a.startsWith('--learned-v8-flag'))
      if (bad.length > 0) throw refuse(bad)
      return argv
    }
    const argv = ['--import', './hooks.mjs', '--learned-v8-flag-a=1', '--conditions', 'dev', '--learned-v8-flag-b']
    assert.deepEqual(startWithExecArgv(argv, start), ['--import', './hooks.mjs', '--conditions', 'dev'])
    assert.equal(calls.length, 2)
    // Learned: the next start does not try them again.
    calls.length = 0
    assert.deepEqual(startWithExecArgv(argv, start), ['--import', './hooks.mjs', '--conditions', 'dev'])
    assert.equal(calls.length, 1)
  })

  it('rethrows other errors, and a refusal it cannot act on', () => {
    assert.throws(() => startWithExecArgv(['--x'], () => { throw new RangeError('other') }), /other/)
    assert.throws(() => startWithExecArgv(['--x'], () => { throw refuse(['--not-in-argv']) }), /invalid execArgv/)
  })

  it('a program run with V8 flags (--expose-gc, --max-old-space-size, --stack-size) starts thread workers', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const flags = ['--expose-gc', '--max-old-space-size=256', '--stack-size=2000']
    const out = execFileSync(process.execPath, [...flags, '--import', 'tsx', 'test/fixtures/programs/v8_flags.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    const { results, execArgv } = JSON.parse(out.trim().split('\n').pop()!) as { results: number[]; execArgv: string[] }
    assert.deepEqual(results, [9, 16])
    for (const flag of flags) assert.ok(execArgv.includes(flag), `${flag} reached the program`)
  })
})

describe('workerExecArgv(): the options that name the caller\'s program are left out', () => {
  const program: [string, string[]][] = [
    ['-e with its value', ['-e', 'code()']],
    ['--eval with its value', ['--eval', 'code()']],
    ['--eval=value', ['--eval=code()']],
    ['-p with its value', ['-p', '1 + 1']],
    ['--print with its value', ['--print', '1 + 1']],
    ['--print=value', ['--print=1 + 1']],
    ['-pe with its value', ['-pe', '1 + 1']],
    ['--input-type=module', ['--input-type=module']],
    ['--input-type with its value', ['--input-type', 'commonjs']],
    ['-i', ['-i']],
    ['--interactive', ['--interactive']],
    ['-c', ['-c']],
    ['--check', ['--check']],
    ['--env-file=value', ['--env-file=.env']],
    ['--env-file with its value', ['--env-file', '.env']],
    ['--env-file-if-exists=value', ['--env-file-if-exists=.env']],
  ]
  for (const [label, flags] of program) {
    it(`drops ${label}`, () => {
      assert.deepEqual(workerExecArgv(['--no-warnings', ...flags, '--import', 'tsx']), ['--no-warnings', '--import', 'tsx'])
    })
  }

  it('the REPL with -e and --input-type together leaves only the loaders', () => {
    assert.deepEqual(workerExecArgv(['-i', '--input-type=module', '-e', 'x', '--import', './hooks.mjs']), ['--import', './hooks.mjs'])
  })
})

/**
 * Programs started with each flag a user may run with, on the thread and the
 * process backends. Each runs in its own process group (spawned detached)
 * under a time limit; whatever happens, the whole group is killed at the
 * end, and the test asserts that nothing of the group was still running
 * once the program ended (a worker re-running the caller's program forked
 * without end: that is what the group guard is for).
 */
describe('programs started with any flag get working workers on thread and process backends', { concurrency: 3 }, () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const index = pathToFileURL(join(root, 'src/index.ts')).href
  const tasks = pathToFileURL(join(root, 'test/fixtures/tasks.ts')).href
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-flags-'))
  // The programs run in `dir`, where the bare name `tsx` does not resolve.
  const tsxLoader = pathToFileURL(join(dirname(createRequire(join(root, 'noop.js')).resolve('tsx/package.json')), 'dist/loader.mjs')).href
  /** The program: a Pool on each context maps a task of a real module file; prints one RESULT line. */
  const source = [
    `import { getContext } from ${JSON.stringify(index)}`,
    `import { square } from ${JSON.stringify(tasks)}`,
    'const out = { pid: process.pid, preload: globalThis.__flagsPreload ?? null, env: process.env.FLAGS_TEST_ENV ?? null }',
    "for (const name of ['thread', 'process']) {",
    '  const pool = new (getContext(name).Pool)({ processes: 1 })',
    '  try { out[name] = await pool.map(square, [1, 2, 3]) } catch (e) { out[name] = `${e.name}: ${e.message}` }',
    '  await pool.terminate()',
    '}',
    "console.log('RESULT ' + JSON.stringify(out))",
  ].join('\n')
  const programFile = join(dir, 'program.mjs')
  writeFileSync(programFile, source)
  writeFileSync(join(dir, 'preload.cjs'), 'globalThis.__flagsPreload = "require"\n')
  writeFileSync(join(dir, 'preload.mjs'), 'globalThis.__flagsPreload = "import"\n')
  writeFileSync(join(dir, 'hooks.mjs'), 'export async function resolve(s, c, next) { return next(s, c) }\n')
  writeFileSync(join(dir, '.env'), 'FLAGS_TEST_ENV=from-env-file\n')

  /** Processes of process group `pgid` that are not zombies (Linux /proc). */
  const groupMembers = (pgid: number): number[] => {
    const out: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(entry))
      } catch {
        // gone meanwhile
      }
    }
    return out
  }

  interface Run {
    stdout: string
    stderr: string
    code: number | null
    /** Group members still running when the program ended, or when `until` matched. */
    leftover: number[]
    result: Record<string, unknown> | null
  }

  // Not a test file of this runner's: without its context variable, `--test` runs the program as its own runner would.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }
  delete childEnv.NODE_TEST_CONTEXT
  /** Runs `node --import <tsx> ...args` detached, for at most `ms`; `until` ends a program that never exits (--watch). */
  const runGuarded = (args: string[], options: { input?: string; until?: RegExp; ms?: number } = {}): Promise<Run> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', tsxLoader, ...args], { cwd: dir, detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: childEnv })
      const pgid = child.pid!
      let stdout = ''
      let stderr = ''
      let leftover: number[] | null = null
      let settled = false
      let watching = false
      const finish = (code: number | null): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        leftover ??= groupMembers(pgid)
        try {
          process.kill(-pgid, 'SIGKILL')
        } catch {
          // the group is empty
        }
        // (The REPL writes its prompt before the line.)
        const line = /RESULT (.*)/.exec(stdout)?.[1]
        resolve({ stdout, stderr, code, leftover, result: line === undefined ? null : (JSON.parse(line) as Record<string, unknown>) })
      }
      const timer = setTimeout(() => finish(null), options.ms ?? 20_000)
      child.stdout.on('data', (d: Buffer) => {
        stdout += d
        if (options.until?.test(stdout) && !watching) {
          watching = true
          // The watcher and its program are expected; anything more is a worker left over. A
          // worker that is exiting gets the same bounded moment as on the exit path below.
          const end = Date.now() + 3000
          const check = (): void => {
            const extra = groupMembers(pgid).filter((p) => p !== pgid && p !== watchedChild(pgid))
            if (extra.length === 0 || Date.now() > end) {
              leftover = extra
              finish(0)
            } else setTimeout(check, 50)
          }
          check()
        }
      })
      child.stderr.on('data', (d: Buffer) => (stderr += d))
      child.on('exit', (code) => {
        // The program is gone: give its workers a moment to exit, bounded.
        const end = Date.now() + 3000
        const check = (): void => {
          if (groupMembers(pgid).length === 0 || Date.now() > end) finish(code)
          else setTimeout(check, 50)
        }
        check()
      })
      child.stdin.end(options.input ?? '')
    })
  /** The child a `--watch` parent runs the program in. */
  const watchedChild = (pgid: number): number | undefined => {
    try {
      return Number(readFileSync(`/proc/${pgid}/task/${pgid}/children`, 'utf8').trim().split(' ')[0])
    } catch {
      return undefined
    }
  }

  const expectWorking = (run: Run, label: string): Record<string, unknown> => {
    assert.ok(run.result !== null, `${label}: no RESULT line\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(0, 2000)}`)
    assert.deepEqual(run.result.thread, [1, 4, 9], `${label}: thread`)
    assert.deepEqual(run.result.process, [1, 4, 9], `${label}: process`)
    assert.deepEqual(run.leftover, [], `${label}: processes left running`)
    return run.result
  }

  const cases: [string, string[], { input?: string; until?: RegExp; check?: (run: Run, result: Record<string, unknown>) => void }?][] = [
    ['--input-type=module -e', ['--input-type=module', '-e', source]],
    ['--input-type=module --eval= (a program of several lines)', ['--input-type=module', `--eval=${source}`]],
    ['--print', ['--print', `import(${JSON.stringify(pathToFileURL(programFile).href)}).then(() => '')`]],
    ['stdin with --input-type=module', ['--input-type=module'], { input: source }],
    ['the REPL (-i)', ['-i'], { input: `await import(${JSON.stringify(pathToFileURL(programFile).href)})\n.exit\n` }],
    ['a program file', [programFile]],
    ['--test', ['--test', '--test-reporter=tap', programFile]],
    ['--watch', ['--watch', programFile], { until: /RESULT .*\n/ }],
    [
      '--env-file',
      ['--env-file=.env', programFile],
      { check: (_run, result) => assert.equal(result.env, 'from-env-file') },
    ],
    ['--experimental-vm-modules', ['--experimental-vm-modules', programFile]],
    ['--experimental-loader', ['--experimental-loader', './hooks.mjs', programFile]],
    ['--loader', ['--loader=./hooks.mjs', programFile]],
    ['--require', ['--require', './preload.cjs', programFile], { check: (_run, result) => assert.equal(result.preload, 'require') }],
    ['--import', ['--import', './preload.mjs', programFile], { check: (_run, result) => assert.equal(result.preload, 'import') }],
    [
      '--cpu-prof',
      ['--cpu-prof', '--cpu-prof-dir=prof-cpu', programFile],
      {
        check: (_run, result) => {
          // Only the caller profiles (a thread worker may add its own file, named after the caller's pid).
          const files = readdirSync(join(dir, 'prof-cpu'))
          assert.ok(files.length > 0)
          for (const file of files) assert.match(file, new RegExp(`\\.${result.pid}\\.`), file)
        },
      },
    ],
    [
      '--inspect',
      ['--inspect=127.0.0.1:0', programFile],
      // One inspector: the caller's. A worker process opening its own would say so on stderr.
      { check: (run) => assert.equal(run.stderr.match(/Debugger listening on/g)?.length, 1, run.stderr) },
    ],
  ]
  for (const [label, args, options = {}] of cases) {
    it(label, { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
      const run = await runGuarded(args, options)
      const result = expectWorking(run, label)
      options.check?.(run, result)
    })
  }

  it('a task defined in the -e program is refused at submit with a TypeError that says why, on both contexts', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const inline = [
      `import { getContext } from ${JSON.stringify(index)}`,
      'export function cube(x) { return x ** 3 }',
      'const out = {}',
      "for (const name of ['thread', 'process']) {",
      '  const pool = new (getContext(name).Pool)({ processes: 1 })',
      '  try { pool.applyAsync(cube, [2]); out[name] = "submitted" } catch (e) { out[name] = `${e.name}: ${e.message}` }',
      '  await pool.terminate()',
      '}',
      "console.log('RESULT ' + JSON.stringify(out))",
    ].join('\n')
    const run = await runGuarded(['--input-type=module', '-e', inline])
    assert.ok(run.result !== null, run.stderr)
    for (const name of ['thread', 'process']) assert.match(String(run.result[name]), /^TypeError: .*program given by -e, --eval, --print or stdin/)
    assert.deepEqual(run.leftover, [])
  })

  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
})

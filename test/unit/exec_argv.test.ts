// The Node options a worker inherits: workerExecArgv() and threadLoaderSetup().
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startWithExecArgv, threadLoaderSetup, workerExecArgv } from '../../src/backends/exec_argv.js'
import { execFileSync } from 'node:child_process'

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

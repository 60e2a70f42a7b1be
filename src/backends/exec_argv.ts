/**
 * The Node options a worker inherits from its caller.
 *
 * Loaders and language flags carry over, so TypeScript task modules work in
 * workers with no configuration. Options that belong to one process only
 * (an inspector port, profiling output, a title, the test runner, a watcher,
 * an env file already loaded into `process.env`) are left out.
 *
 * So are the options that name the caller's program: `-e`, `--print`,
 * `--input-type` (a program from a string or stdin), `-i` (the REPL),
 * `--check`. A child process given `-e` would run the caller's program
 * instead of the worker's entry (that program makes a pool, which forks
 * again: without end), and `--input-type` makes a worker thread refuse its
 * file entry. A worker runs its entry and the task modules, never the
 * caller's program.
 *
 * tsx needs one more step for worker threads: on Node 20, a loader given as
 * `--import` in a Worker's execArgv does not apply to the worker's module
 * loading. So the tsx flags are taken out of a thread's execArgv, and the
 * worker's entry registers tsx through its API instead (see
 * worker/thread_entry.js), which works on every Node version.
 *
 * A worker thread also refuses V8 options (`--max-old-space-size`,
 * `--expose-gc`, `--stack-size`) and per-process ones: `new Worker` throws
 * ERR_WORKER_INVALID_EXEC_ARGV. V8 options are process-wide anyway (the
 * thread runs under them already), so `startWithExecArgv` leaves out what
 * the Worker names as refused and remembers it; no list of V8 flags to keep
 * current.
 *
 * Child processes honour `--import tsx`, so they keep the caller's flags;
 * when the caller runs under tsx without saying so in its execArgv (a
 * worker thread, whose tsx flags were taken out above), the flag is added.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const PROCESS_ONLY = [
  /^--inspect(-brk|-port|-wait)?(=.*)?$/s,
  /^--debug(-brk|-port)?(=.*)?$/s,
  /^--(cpu|heap)-prof(-dir|-name|-interval)?(=.*)?$/s,
  /^--prof(-process)?$/,
  /^--title(=.*)?$/s,
  /^--test(-.*)?(=.*)?$/s,
  /^--watch(-path|-preserve-output)?(=.*)?$/s,
  /^--experimental-test-coverage$/,
  /^--env-file(-if-exists)?(=.*)?$/s,
  // The caller's program itself (see above).
  /^(-e|--eval|-p|--print|-pe|-ep)(=.*)?$/s,
  /^--input-type(=.*)?$/s,
  /^(-i|--interactive|-c|--check)$/,
]
// (The `s` flag: a program given with `--eval=` spans lines, and `.` must match them all.)
const TAKES_VALUE = new Set([
  '--inspect-port',
  '--debug-port',
  '--title',
  '--cpu-prof-dir',
  '--cpu-prof-name',
  '--heap-prof-dir',
  '--heap-prof-name',
  '--cpu-prof-interval',
  '--heap-prof-interval',
  '--test-shard',
  '--watch-path',
  '--test-reporter',
  '--test-reporter-destination',
  '--test-name-pattern',
  '--test-concurrency',
  '--test-timeout',
  '--env-file',
  '--env-file-if-exists',
  '-e',
  '--eval',
  '-p',
  '--print',
  '-pe',
  '-ep',
  '--input-type',
])
const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r'])

/** Filters `argv` (default `process.execArgv`) down to what a child process may inherit. */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (PROCESS_ONLY.some((re) => re.test(arg))) {
      if (TAKES_VALUE.has(arg) && i + 1 < argv.length) i++
      continue
    }
    out.push(arg)
  }
  return out
}

function isTsxSpecifier(value: string): boolean {
  return value === 'tsx' || value.startsWith('tsx/') || /[\\/]tsx[\\/]dist[\\/]/.test(value)
}

let tsxRootCache: string | null | undefined

/** Where tsx is installed, if this process runs under it (cached for the process's own execArgv). */
function tsxRoot(argv: readonly string[]): string | null {
  const own = argv === process.execArgv
  if (own && tsxRootCache !== undefined) return tsxRootCache
  let root: string | null = null
  let mentioned = false
  for (const arg of argv) {
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg
    const match = /^(?:file:\/\/)?(.*[\\/]tsx)[\\/]dist[\\/]/.exec(value)
    if (match !== null) {
      root = decodeURIComponent(match[1]!)
      break
    }
    if (isTsxSpecifier(value)) mentioned = true
  }
  // Running our own TypeScript sources also means a TypeScript loader is active.
  if (root === null && (mentioned || import.meta.url.endsWith('.ts'))) {
    for (const base of [join(process.cwd(), 'noop.js'), import.meta.url]) {
      try {
        root = dirname(createRequire(base).resolve('tsx/package.json'))
        break
      } catch {
        // not resolvable from here
      }
    }
  }
  if (own) tsxRootCache = root
  return root
}

/** What a worker thread needs to load modules the way its caller does. */
export interface ThreadLoaderSetup {
  execArgv: string[]
  /** Modules whose `register()` the worker calls before anything else. */
  registerModules: string[]
}

export function threadLoaderSetup(argv: readonly string[] = process.execArgv): ThreadLoaderSetup {
  const filtered = workerExecArgv(argv)
  const root = tsxRoot(argv)
  if (root === null) return { execArgv: filtered, registerModules: [] }
  const execArgv: string[] = []
  for (let i = 0; i < filtered.length; i++) {
    const arg = filtered[i]!
    if (LOADER_FLAGS.has(arg) && i + 1 < filtered.length && isTsxSpecifier(filtered[i + 1]!)) {
      i++
      continue
    }
    const eq = arg.indexOf('=')
    if (eq > 0 && LOADER_FLAGS.has(arg.slice(0, eq)) && isTsxSpecifier(arg.slice(eq + 1))) continue
    execArgv.push(arg)
  }
  return {
    execArgv,
    registerModules: [pathToFileURL(join(root, 'dist/esm/api/index.mjs')).href, pathToFileURL(join(root, 'dist/cjs/api/index.mjs')).href],
  }
}

/** The Node options of a child-process worker: the caller's, with a TypeScript loader when the caller has one. */
export function processExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const filtered = workerExecArgv(argv)
  const root = tsxRoot(argv)
  if (root === null) return filtered
  for (let i = 0; i < filtered.length; i++) {
    const arg = filtered[i]!
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const value = eq > 0 ? arg.slice(eq + 1) : filtered[i + 1]
    if (LOADER_FLAGS.has(flag) && value !== undefined && isTsxSpecifier(value)) return filtered
  }
  return [...filtered, '--import', pathToFileURL(join(root, 'dist/loader.mjs')).href]
}

/** Inherited flags a Worker refused, learned once per process. */
const refusedByWorker = new Set<string>()

/**
 * Calls `start(execArgv)` (which constructs a `Worker`), leaving out the
 * flags a Worker refuses. `new Worker` checks its execArgv synchronously and
 * names the refused flags in the error ("...invalid execArgv flags: --a, --b"),
 * so a refusal costs one failed constructor call, once per process.
 */
export function startWithExecArgv<T>(execArgv: readonly string[], start: (execArgv: string[]) => T): T {
  let argv = execArgv.filter((arg) => !refusedByWorker.has(arg))
  for (;;) {
    try {
      return start(argv)
    } catch (error) {
      const err = error as NodeJS.ErrnoException
      if (err?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error
      const colon = err.message.indexOf(': ')
      const named = colon < 0 ? [] : err.message.slice(colon + 2).split(', ')
      const next = argv.filter((arg) => !named.includes(arg))
      // Nothing we can recognise and remove: give the real error.
      if (next.length === argv.length) throw error
      for (const arg of named) refusedByWorker.add(arg)
      argv = next
    }
  }
}

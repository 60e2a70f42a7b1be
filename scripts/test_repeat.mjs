#!/usr/bin/env node
// Runs test files again and again to find the ones that fail only sometimes.
//   npm run test:repeat -- --times 10                 every file, 10 runs
//   npm run test:repeat -- --times 5 --load test/nats one folder, beside a busy loop per core
// Each file runs as its own `node --test` process (as `npm test` runs them: same
// preload, same bounds), `--jobs` at a time. Prints per file the pass/fail counts
// and durations (min/median/max), and for each failure its test and the first line
// of its error; the full spec output of every file run is kept under --logs.
// Bounded: a run that overruns --deadline has its remaining files killed (they count
// as failures); the busy loops die with this script (they watch its pipe).
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { FILE_TIMEOUT_MS, root, runnerArgs, runnerEnv, testFiles } from './test.mjs'

const usage = `Usage: npm run test:repeat -- [--times N] [--load] [--jobs N] [--deadline SECONDS] [--logs DIR] [--json FILE] [--test-...] [files or folders...]
  --times N        runs of the chosen files (default 5)
  --load           one busy-loop process per core beside the tests, killed at the end
  --jobs N         files at a time (default 2, as npm test)
  --deadline S     bound of one run in seconds (default 900): what still runs then is killed and fails
  --logs DIR       where each file run's spec output goes (default: a new folder under ${tmpdir()})
  --json FILE      also write every result as JSON (after each run)
  --test-*         passed to Node's test runner (e.g. --test-name-pattern=heap)`

function parse(argv) {
  const options = { times: 5, load: false, jobs: 2, deadline: 900, logs: undefined, json: undefined, targets: [], runnerFlags: [] }
  const count = (flag, value, min) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new RangeError(`Expected \`${flag}\` to be an integer >= ${min}, got ${value}\n${usage}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s)
    const value = () => inline ?? argv[++i]
    if (flag === '--times') options.times = count(flag, value(), 1)
    else if (flag === '--jobs') options.jobs = count(flag, value(), 1)
    else if (flag === '--deadline') options.deadline = count(flag, value(), 1)
    else if (flag === '--load') options.load = true
    else if (flag === '--logs') options.logs = value()
    else if (flag === '--json') options.json = value()
    else if (flag === '--help' || flag === '-h') (console.log(usage), process.exit(0))
    else if (flag.startsWith('--test-')) options.runnerFlags.push(argv[i])
    else if (flag.startsWith('-')) throw new TypeError(`Unknown option ${flag}\n${usage}`)
    else options.targets.push(argv[i])
  }
  return options
}

const running = new Set()
const withBash = spawnSync('bash', ['-c', 'times'], { stdio: 'ignore' }).status === 0

/** Kills a file run's whole process group (the runner, the test process, its servers and workers). */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

/** One busy loop per core; each exits when this script's pipe to it closes. */
function startLoad() {
  const spin = 'process.stdin.on("end", () => process.exit(0)).resume(); const spin = () => { const end = Date.now() + 50; while (Date.now() < end); setImmediate(spin) }; spin()'
  return Array.from({ length: availableParallelism() }, () => spawn(process.execPath, ['-e', spin], { stdio: ['pipe', 'ignore', 'ignore'] }))
}

function stopLoad(hogs) {
  for (const hog of hogs) if (hog.exitCode === null && hog.signalCode === null) hog.kill('SIGKILL')
}

/** Runs one file once: its pass/fail, duration and failures. */
function runFile(file, logFile, deadlineAt, runnerFlags) {
  return new Promise((resolve) => {
    const start = performance.now()
    const args = [...runnerArgs(), '--test-reporter=spec', `--test-reporter-destination=${logFile}`, `--test-reporter=${new URL('./test_repeat_reporter.mjs', import.meta.url).href}`, '--test-reporter-destination=stdout', ...runnerFlags, file]
    // Under bash, `times` adds the CPU seconds the file's processes used: unlike the wall clock,
    // it hardly depends on what else the machine runs.
    const [command, commandArgs] = withBash ? ['bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'bash', process.execPath, ...args]] : [process.execPath, args]
    const child = spawn(command, commandArgs, { cwd: root, env: runnerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    running.add(child)
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    // The runner bounds the file (FILE_TIMEOUT_MS); this also covers a runner that hangs after it.
    let killedFor = null
    const bound = Math.min(FILE_TIMEOUT_MS + 30_000, deadlineAt - Date.now())
    const timer = setTimeout(() => {
      killedFor = bound < FILE_TIMEOUT_MS + 30_000 ? 'the run deadline' : 'the file bound'
      killGroup(child)
    }, Math.max(0, bound))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      // Whatever the test left behind in its group (a server, a worker) goes with it.
      killGroup(child)
      const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      const failures = events.filter((e) => e.fail !== undefined).map((e) => ({ test: e.fail, message: e.message }))
      const stderr = events.filter((e) => e.stderr !== undefined).map((e) => e.stderr).join('') + err
      const timesLine = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm
      const times = [...err.matchAll(timesLine)]
      err = err.replace(timesLine, '')
      const cpuMs = times.length === 2 ? (Number(times[1][1]) * 60 + Number(times[1][2]) + Number(times[1][3]) * 60 + Number(times[1][4])) * 1000 : null
      const passed = code === 0 && killedFor === null
      if (!passed && killedFor !== null) failures.push({ test: '(file)', message: `killed by ${killedFor}` })
      // A file that failed outside any test (a crash in an exit handler): its stderr says why.
      if (!passed && failures.every((f) => f.message === 'test failed')) {
        const line = stderr.split('\n').find((l) => /^\s*(\w*Error\b|✖)/.test(l)) ?? stderr.trim().split('\n').pop() ?? ''
        failures.push({ test: '(stderr)', message: line.trim() || `exit ${code ?? signal}` })
      }
      resolve({ file, passed, ms: performance.now() - start, cpuMs, failures, log: logFile })
    })
  })
}

async function runOnce(files, options, logDir) {
  mkdirSync(logDir, { recursive: true })
  const deadlineAt = Date.now() + options.deadline * 1000
  const queue = [...files]
  const results = []
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      if (Date.now() >= deadlineAt) {
        results.push({ file, passed: false, ms: 0, failures: [{ test: '(file)', message: 'not started: the run deadline had passed' }], log: null })
        continue
      }
      results.push(await runFile(file, join(logDir, `${file.replaceAll('/', '_')}.log`), deadlineAt, options.runnerFlags))
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.jobs, files.length) }, worker))
  return results
}

const median = (sorted) => (sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2)
const seconds = (ms) => (ms / 1000).toFixed(1)
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')

function summary(files, runs) {
  const rows = files.map((file) => {
    const own = runs.flatMap((r) => r.results.filter((x) => x.file === file))
    const ms = own.filter((x) => x.ms > 0).map((x) => x.ms).sort((a, b) => a - b)
    const cpu = own.map((x) => x.cpuMs).filter((c) => typeof c === 'number').sort((a, b) => a - b)
    return { file, pass: own.filter((x) => x.passed).length, fail: own.filter((x) => !x.passed).length, ms, cpu }
  })
  const width = Math.max(...files.map((f) => f.length), 4)
  const lines = [`${'file'.padEnd(width)}  pass  fail   min s  median s   max s  median cpu s`]
  for (const { file, pass, fail, ms, cpu } of rows) {
    const d = ms.length > 0 ? [ms[0], median(ms), ms[ms.length - 1]].map(seconds) : ['-', '-', '-']
    const c = cpu.length > 0 ? seconds(median(cpu)) : '-'
    lines.push(`${file.padEnd(width)}  ${String(pass).padStart(4)}  ${String(fail).padStart(4)}  ${d[0].padStart(6)}  ${d[1].padStart(8)}  ${d[2].padStart(6)}  ${c.padStart(12)}`)
  }
  const walls = runs.map((r) => r.ms).sort((a, b) => a - b)
  lines.push('', `${runs.length} run(s); wall clock per run: min ${seconds(walls[0])} s, median ${seconds(median(walls))} s, max ${seconds(walls[walls.length - 1])} s`)
  const cpus = runs.map((r) => r.results.reduce((n, x) => n + (x.cpuMs ?? 0), 0)).sort((a, b) => a - b)
  if (cpus[cpus.length - 1] > 0) lines.push(`CPU seconds per run (all files' processes): median ${seconds(median(cpus))} s`)
  lines.push(`runs with a failure: ${runs.filter((r) => r.results.some((x) => !x.passed)).length}; failed file runs: ${rows.reduce((n, r) => n + r.fail, 0)}`)
  const failures = runs.flatMap((r) => r.results.filter((x) => !x.passed).map((x) => ({ run: r.run, ...x })))
  if (failures.length > 0) lines.push('', 'failures:')
  for (const f of failures) {
    lines.push(`  run ${f.run}  ${f.file}${f.log ? `  (${f.log})` : ''}`)
    for (const t of f.failures) lines.push(`    ✖ ${t.test}: ${t.message}`)
  }
  return lines.join('\n')
}

async function main() {
  const options = parse(process.argv.slice(2))
  const files = testFiles(options.targets)
  if (files.length === 0) throw new Error(`No test files found in ${options.targets.join(', ') || 'test/'}`)
  const logs = options.logs ?? join(tmpdir(), `multiproc-test-repeat-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  const hogs = options.load ? startLoad() : []
  const cleanup = () => {
    for (const child of running) killGroup(child)
    stopLoad(hogs)
  }
  process.once('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))
  console.log(`${files.length} file(s), ${options.times} run(s)${options.load ? `, beside ${hogs.length} busy loop(s)` : ''}; logs in ${logs}`)
  const runs = []
  try {
    for (let run = 1; run <= options.times; run++) {
      const before = load()
      const start = performance.now()
      const results = await runOnce(files, options, join(logs, `run-${run}`))
      const ms = performance.now() - start
      runs.push({ run, ms, loadBefore: before, loadAfter: load(), results })
      const failed = results.filter((r) => !r.passed)
      console.log(`run ${run}/${options.times}: ${results.length - failed.length} passed, ${failed.length} failed, ${seconds(ms)} s; load average ${before} -> ${load()}`)
      for (const f of failed) console.log(`  ✖ ${f.file}: ${f.failures.map((t) => `${t.test}: ${t.message}`).join(' | ')}`)
      // Written after every run: a hunt stopped early keeps what it found.
      if (options.json !== undefined) writeFileSync(options.json, JSON.stringify({ options, runs }, null, 2))
    }
  } finally {
    cleanup()
  }
  console.log(`\n${summary(files, runs)}`)
  process.exitCode = runs.some((r) => r.results.some((x) => !x.passed)) ? 1 : 0
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(2)
})

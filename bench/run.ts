/**
 * The benchmark suite: multiproc and its peers, same tasks, same run.
 *
 *   npm run bench                       every case, full size
 *   npm run bench -- --quick            smaller sizes, fewer repetitions
 *   npm run bench -- --only burst,rtt   some cases
 *   npm run bench -- --readme           also rewrite README's Performance section
 *
 * Each (library, repetition) is a fresh child process (bench/child.ts), so
 * one library's JIT and GC state cannot skew the next. Libraries are
 * interleaved: repetition r runs them in an order rotated by r, so drift in
 * the machine's load spreads over all of them. Medians of the repetitions
 * are compared as ratios. A full run writes bench/results/latest.{md,json,svg};
 * a quick or partial run writes partial.* instead and may not touch the README.
 */
import { execFile, execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CASES, pairRange } from './cases.js'
import { benchDir, median, type Measurement } from './measure.js'
import { markdown, replaceReadmeSection, svg, type CaseResult, type RunResult } from './report.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const readme = args.includes('--readme')
const onlyIndex = args.indexOf('--only')
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? '').split(',').filter(Boolean)) : null
if (only !== null) {
  const unknown = [...only].filter((id) => !CASES.some((c) => c.id === id))
  if (unknown.length > 0) {
    console.error(`Unknown case(s): ${unknown.join(', ')}. Cases: ${CASES.map((c) => c.id).join(', ')}`)
    process.exit(2)
  }
}
if (readme && (quick || only !== null)) {
  console.error('--readme publishes a full run only: run `npm run bench -- --readme` without --quick or --only')
  process.exit(2)
}
// The bench runs multiproc from its own tsc output (.bench-out/src): give it
// the thread worker's one-file start, as `npm run build` gives dist.
execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/bundle_thread_worker.mjs', import.meta.url)), fileURLToPath(new URL('../src', import.meta.url))], { stdio: 'inherit' })
const mode = quick ? 'quick' : 'full'
const childFile = fileURLToPath(new URL('./child.js', import.meta.url))
const root = join(benchDir, '..')

function pythonVersion(): string | null {
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}

function runChild(caseId: string, lib: string): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [childFile, caseId, lib, mode],
      { cwd: root, timeout: 15 * 60_000, maxBuffer: 1 << 20, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${caseId}/${lib}: ${stderr.trim().split('\n').slice(-3).join(' ') || error.message}`))
          return
        }
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Measurement)
        } catch {
          reject(new Error(`${caseId}/${lib}: unreadable output ${JSON.stringify(stdout.slice(0, 200))}`))
        }
      },
    )
  })
}

const python = pythonVersion()
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
  node: process.versions.node,
  python,
  platform: `${process.platform}/${process.arch}`,
  load: [loadavg()[0]!, 0] as [number, number],
}
console.log(`multiproc bench (${mode}): ${machine.cpus} CPUs, ${machine.cpuModel}, Node ${machine.node}, Python ${python ?? 'absent'}`)

const results: CaseResult[] = []
for (const c of CASES) {
  if (only !== null && !only.has(c.id)) continue
  const libs = c.libs.filter((lib) => lib !== c.python || python !== null)
  const samples: Record<string, Measurement[]> = Object.fromEntries(libs.map((l) => [l, []]))
  const errors: Record<string, string> = {}
  const reps = c.reps[mode]
  console.log(`\n${c.title}`)
  for (let r = 0; r < reps; r++) {
    const order = libs.map((_, i) => libs[(i + r) % libs.length]!)
    for (const lib of order) {
      if (errors[lib] !== undefined) continue
      try {
        const m = await runChild(c.id, lib)
        samples[lib]!.push(m)
        process.stdout.write(`  [${r + 1}/${reps}] ${lib.padEnd(12)} ${m.value.toFixed(2)} ${m.unit}\n`)
      } catch (error) {
        errors[lib] = (error as Error).message
        process.stdout.write(`  [${r + 1}/${reps}] ${lib.padEnd(12)} failed: ${errors[lib]}\n`)
      }
    }
  }
  const medians: Record<string, number | undefined> = {}
  const extras: Record<string, Record<string, unknown>[]> = {}
  const libResults: CaseResult['libs'] = {}
  for (const lib of libs) {
    const list = samples[lib]!
    if (errors[lib] !== undefined && list.length === 0) {
      libResults[lib] = { error: errors[lib]! }
      continue
    }
    medians[lib] = median(list.map((m) => m.value))
    extras[lib] = list.map((m) => m.extra ?? {})
    libResults[lib] = { median: medians[lib]!, unit: list[0]!.unit, samples: list.map((m) => m.value), extra: extras[lib]! }
  }
  // Repetition r of every library ran in the same round: their ratios are taken pair by pair.
  const values = (lib: string): number[] | undefined => (medians[lib] === undefined ? undefined : samples[lib]!.map((m) => m.value))
  const rows = c.rows(medians, extras, (a, b) => pairRange(values(a), values(b)))
  for (const row of rows) console.log(`  → ${row.metric}: ${row.measured === null ? 'n/a' : row.measured.toFixed(3)} (target ${row.target}) ${row.pass === null ? 'not run' : row.pass ? 'pass' : 'FAIL'}`)
  results.push({ id: c.id, title: c.title, libs: libResults, rows })
}

machine.load[1] = loadavg()[0]!
const run: RunResult = { date: new Date().toISOString(), mode, machine, cases: results }
const outDir = join(benchDir, 'results')
mkdirSync(outDir, { recursive: true })
// Only a full run of every case replaces the committed latest.*; a quick or
// partial run goes to partial.* (not committed), so checking one case never
// overwrites the published results.
const complete = !quick && only === null
const base = complete ? 'latest' : 'partial'
writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(run, null, 2)}\n`)
writeFileSync(join(outDir, `${base}.md`), markdown(run))
writeFileSync(join(outDir, `${base}.svg`), svg(run))
console.log(`\nWrote ${join(outDir, `${base}.md`)}, ${base}.json, ${base}.svg`)
if (readme) {
  const path = join(root, 'README.md')
  writeFileSync(path, replaceReadmeSection(readFileSync(path, 'utf8'), run))
  console.log('Rewrote the Performance section of README.md')
}

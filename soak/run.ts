// The soak: every scenario of soak/scenarios/*.ts, one after another, each
// under its own deadline; one table row per scenario; a non-zero exit when
// anything was lost, duplicated, hung or wrong.
//
//   npm run soak                      the full soak (scale 1)
//   npm run soak -- --short           the CI run (scale 0.05)
//   npm run soak -- --scale 0.2       a fifth of the full counts
//   npm run soak -- --only pool       scenarios whose "name [backend]" contains "pool"
//   npm run soak -- --deadline 120    seconds per scenario (default 600 full, 120 short)
//
// A scenario that does not return by its deadline (plus a grace) is
// reported as hung with what it was doing; the run goes on with the next
// one and exits when all are done, whatever a stuck one left running.
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import type { SoakRow, SoakScenario } from './scenario.js'

/** How long past its deadline a scenario may take to return its row. */
const GRACE_MS = 15_000

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    scale: { type: 'string' },
    only: { type: 'string' },
    deadline: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write('Usage: npm run soak -- [--short | --scale <fraction>] [--only <substring>] [--deadline <seconds per scenario>]\n')
  process.exit(0)
}
const scale = values.scale !== undefined ? Number(values.scale) : values.short ? 0.05 : 1
if (!(scale > 0 && scale <= 1)) {
  process.stderr.write(`Expected \`--scale\` to be a number in (0, 1], got ${values.scale}\n`)
  process.exit(2)
}
const deadlineSeconds = values.deadline === undefined ? (values.short ? 120 : 600) : Number(values.deadline)
if (!Number.isFinite(deadlineSeconds) || deadlineSeconds <= 0) {
  process.stderr.write(`Expected \`--deadline\` to be a positive number of seconds, got ${values.deadline}\n`)
  process.exit(2)
}

const dir = fileURLToPath(new URL('./scenarios/', import.meta.url))
const scenarios: { file: string; scenario: SoakScenario }[] = []
for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { scenarios?: SoakScenario[] }
  for (const scenario of mod.scenarios ?? []) scenarios.push({ file, scenario })
}
const label = (s: SoakScenario): string => `${s.name} [${s.backend}]`
const selected = scenarios.filter(({ scenario }) => values.only === undefined || label(scenario).includes(values.only))
if (selected.length === 0) {
  process.stderr.write(`No scenario matches ${JSON.stringify(values.only)} (of ${scenarios.length})\n`)
  process.exit(2)
}
const natsAvailable = spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0

interface Line {
  scenario: SoakScenario
  row: SoakRow | null
  ms: number
  note: string
}

const lines: Line[] = []
process.stdout.write(`soak: ${selected.length} scenario(s), scale ${scale}, deadline ${deadlineSeconds} s each\n`)
for (const { scenario } of selected) {
  if (scenario.needsNats && !natsAvailable) {
    lines.push({ scenario, row: null, ms: 0, note: 'skipped: no nats-server binary' })
    process.stdout.write(`- ${label(scenario)}: skipped (no nats-server binary)\n`)
    continue
  }
  process.stdout.write(`- ${label(scenario)} ...\n`)
  const started = performance.now()
  const deadline = Date.now() + deadlineSeconds * 1000
  let timer: NodeJS.Timeout | undefined
  const stuck = new Promise<SoakRow>((resolve) => {
    timer = setTimeout(
      () => resolve({ tried: 0, lost: 0, duplicated: 0, hung: 1, wrong: 0, pending: `the scenario itself did not return ${GRACE_MS / 1000} s after its deadline` }),
      deadline - Date.now() + GRACE_MS,
    )
  })
  let row: SoakRow
  let note = ''
  try {
    row = await Promise.race([scenario.run({ scale, deadline }), stuck])
  } catch (error) {
    row = { tried: 0, lost: 0, duplicated: 0, hung: 0, wrong: 1 }
    note = `threw ${(error as Error)?.stack ?? String(error)}`
  } finally {
    clearTimeout(timer)
  }
  if (row.pending) note = note ? `${note}; ${row.pending}` : row.pending
  const line = { scenario, row, ms: performance.now() - started, note }
  lines.push(line)
  process.stdout.write(`  ${format(line)}${note ? `\n  note: ${note}` : ''}\n`)
}

function format(line: Line): string {
  const r = line.row
  return r === null ? 'skipped' : `tried ${r.tried}, lost ${r.lost}, duplicated ${r.duplicated}, hung ${r.hung}, wrong ${r.wrong}, ${(line.ms / 1000).toFixed(1)} s`
}

const failed = (r: SoakRow | null): boolean => r !== null && r.lost + r.duplicated + r.hung + r.wrong > 0
const header = ['scenario', 'backend', 'tried', 'lost', 'duplicated', 'hung', 'wrong', 'wall time']
const rows = lines.map((l) => {
  const r = l.row
  if (r === null) return [l.scenario.name, l.scenario.backend, 'skipped', '', '', '', '', '']
  return [l.scenario.name, l.scenario.backend, String(r.tried), String(r.lost), String(r.duplicated), String(r.hung), String(r.wrong), `${(l.ms / 1000).toFixed(1)} s`]
})
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const cell = (r: string[]): string => `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
process.stdout.write(`\n${cell(header)}\n|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|\n${rows.map(cell).join('\n')}\n`)
const notes = lines.filter((l) => l.note !== '')
if (notes.length > 0) process.stdout.write(`\n${notes.map((l) => `${label(l.scenario)}: ${l.note}`).join('\n')}\n`)
const bad = lines.filter((l) => failed(l.row))
process.stdout.write(bad.length === 0 ? '\nsoak: passed\n' : `\nsoak: FAILED in ${bad.length} scenario(s): ${bad.map((l) => label(l.scenario)).join(', ')}\n`)
// A stuck scenario may have left workers or timers behind: leave anyway.
process.exit(bad.length === 0 ? 0 : 1)

// The benchmark suite at toy sizes: keeps every case and every peer working.
// No timing is asserted here (timings live in bench/results); only that each
// measurement runs, checks its own result, and reports a sane number, and
// that a run renders to Markdown, SVG and the README section.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { CASES, pairRange } from '../../bench/cases.js'
import { existsSync } from 'node:fs'
import { builtCli, measure } from '../../bench/measure.js'
import { markdown, replaceReadmeSection, svg, README_END, README_START, type RunResult } from '../../bench/report.js'

/** Whether `program --version` runs. */
function installed(program: string): boolean {
  try {
    execFileSync(program, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const hasPython = installed('python3')

const hasParallel = installed('parallel')

/** Why a case cannot run here (the bench itself builds the CLI and installs GNU parallel). */
function skipReason(c: (typeof CASES)[number], lib: string): string | false {
  const caseId = c.id
  if (lib === c.python && !hasPython) return 'python3 is not installed'
  if (c.needs !== undefined && !installed(c.needs)) return `${c.needs} is not installed`
  if (caseId.startsWith('cli-') && !existsSync(builtCli)) return 'the CLI is not built (npm run build)'
  if (lib === 'parallel -j2' && !hasParallel) return 'GNU parallel is not installed (apt-get install parallel)'
  return false
}

describe('bench smoke', () => {
  for (const c of CASES) {
    for (const lib of c.libs) {
      const skip = skipReason(c, lib)
      it(`${c.id} / ${lib}`, { skip }, async () => {
        const m = await measure(c.id, lib, 'smoke')
        assert.equal(typeof m.unit, 'string')
        assert.ok(Number.isFinite(m.value), `${c.id}/${lib} gave ${m.value}`)
        assert.ok(m.value >= 0, `${c.id}/${lib} gave ${m.value}`)
        if (c.id === 'f64' && lib === 'shared') assert.equal(m.extra?.copies, 0)
      })
    }
  }

  it('renders a run: rows per target, Markdown, SVG, README section', () => {
    const run: RunResult = {
      date: '2026-01-01T00:00:00.000Z',
      mode: 'quick',
      machine: { cpus: 2, cpuModel: 'Test CPU', node: '20.0.0', python: null, platform: 'linux/x64', load: [0.5, 0.7] },
      cases: CASES.map((c) => {
        const medians = Object.fromEntries(c.libs.map((lib, i) => [lib, i + 1]))
        const extras = Object.fromEntries(c.libs.map((lib, i) => [lib, [{ copies: 0, mainCpuMsPer10k: i + 1, outsideCpuMsPer10k: i + 2, ms1: 2 * (i + 1), ms2: i + 1 }]]))
        // Three rounds per library: lib i measured i+1, i+2, i+0.5.
        const samples = Object.fromEntries(c.libs.map((lib, i) => [lib, [i + 1, i + 2, i + 0.5]]))
        return { id: c.id, title: c.title, libs: {}, rows: c.rows(medians, extras, (a, b) => pairRange(samples[a], samples[b])) }
      }),
    }
    const rows = run.cases.flatMap((c) => c.rows)
    assert.equal(rows.length, 28) // the targets of the README table, one row each
    for (const row of rows) assert.equal(typeof row.pass, 'boolean', row.metric)
    // A ratio row reports the median of the round-by-round ratios and their range.
    const burstRaw = rows.find((r) => r.metric.includes('at once, vs the raw pool'))!
    const mp = [1, 2, 0.5]
    const raw = [6, 7, 5.5]
    const ratios = mp.map((x, i) => x / raw[i]!).sort((x, y) => x - y)
    assert.equal(burstRaw.measured, ratios[1])
    assert.deepEqual(burstRaw.range, [ratios[0], ratios[2]])
    const md = markdown(run)
    assert.match(md, /\| metric \| target \| measured \| result \|/)
    assert.match(md, /2 CPUs \(Test CPU\), Node 20\.0\.0/)
    assert.match(md, /\| 0\.\d\d× \(0\.\d\d–0\.\d\d\) \|/)
    const chart = svg(run)
    assert.match(chart, /^<svg /)
    assert.equal(chart.match(/<rect [^>]*rx="2"/g)?.length, rows.length)
    const readme = `# x\n\n## Performance\n\n${README_START}\nold\n${README_END}\n\n## Next\n`
    const updated = replaceReadmeSection(readme, run)
    assert.ok(!updated.includes('\nold\n'))
    assert.match(updated, /## Next\n$/)
    assert.throws(() => replaceReadmeSection('# no markers', run), /markers/)
  })
})

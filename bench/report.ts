/**
 * Renders a run: Markdown table, JSON, an SVG bar chart (written by hand, no
 * dependency), and the README "Performance" section between its markers.
 */
import type { Row } from './cases.js'

export interface Machine {
  cpus: number
  cpuModel: string
  node: string
  python: string | null
  platform: string
  /** 1-minute load average when the run started and ended: ratios of parallel cases need idle cores. */
  load: [number, number]
}

export interface CaseResult {
  id: string
  title: string
  /** Median per library, and every sample. */
  libs: Record<string, { median: number; unit: string; samples: number[]; extra: Record<string, unknown>[] } | { error: string }>
  rows: Row[]
}

export interface RunResult {
  date: string
  mode: 'full' | 'quick'
  machine: Machine
  cases: CaseResult[]
}

export const README_START = '<!-- bench:start -->'
export const README_END = '<!-- bench:end -->'

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

function measuredText(row: Row): string {
  if (row.measured === null) return 'n/a'
  if (row.unit === 'MB' || row.unit === 'ms') return `${fmt(row.measured)} ${row.unit}`
  if (row.unit === 's') return `${row.measured.toFixed(2)} s`
  if (row.unit === 'items/s') return `${fmt(row.measured)} items/s`
  if (row.unit === '×') return row.range === undefined ? `${row.measured.toFixed(2)}×` : `${row.measured.toFixed(2)}× (${row.range[0].toFixed(2)}–${row.range[1].toFixed(2)})`
  return row.measured === 0 ? 'no copy' : `${row.measured} copies`
}

function passText(row: Row): string {
  return row.pass === null ? 'not run' : row.pass ? 'pass' : '**fail**'
}

function machineLine(run: RunResult): string {
  const m = run.machine
  return `${run.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}${m.python ? `, Python ${m.python}` : ''}, load average ${m.load[0].toFixed(1)} → ${m.load[1].toFixed(1)}, ${run.mode} run`
}

/** The targets table (the README shows this part). */
export function targetsTable(run: RunResult): string {
  const lines = ['| metric | target | measured | result |', '|---|---|---|---|']
  for (const c of run.cases) {
    for (const row of c.rows) lines.push(`| ${row.metric} | ${row.target} | ${measuredText(row)}${row.note ? ` (${row.note})` : ''} | ${passText(row)} |`)
  }
  return lines.join('\n')
}

/** Every library's median per case. */
export function detailTables(run: RunResult): string {
  const out: string[] = []
  for (const c of run.cases) {
    out.push(`### ${c.title}`, '', '| library | median | samples |', '|---|---|---|')
    for (const [lib, r] of Object.entries(c.libs)) {
      if ('error' in r) out.push(`| ${lib} | error: ${r.error.replace(/\|/g, '\\|').split('\n')[0]} | |`)
      else out.push(`| ${lib} | ${fmt(r.median)} ${r.unit} | ${r.samples.map(fmt).join(', ')} |`)
    }
    out.push('')
  }
  return out.join('\n')
}

export function markdown(run: RunResult): string {
  return [
    '# multiproc benchmarks',
    '',
    machineLine(run),
    '',
    '2 workers unless said otherwise; each library measured in a fresh process, libraries interleaved. A ratio is the median of the ratios taken round by round, with their range (min–max).',
    '',
    targetsTable(run),
    '',
    detailTables(run),
  ].join('\n')
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/`/g, '')
}

/** A horizontal bar per target: measured / target on a log scale, the target at the middle line. */
export function svg(run: RunResult): string {
  const rows = run.cases.flatMap((c) => c.rows)
  const barH = 22
  const gap = 8
  const labelW = 560
  const chartW = 360
  const top = 50
  const height = top + rows.length * (barH + gap) + 30
  const width = labelW + chartW + 150
  // score 1 = target met exactly; the axis spans 1/4 … 4 on a log scale.
  const x = (score: number): number => labelW + ((Math.log(Math.min(4, Math.max(0.25, score))) / Math.log(4) + 1) / 2) * chartW
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">multiproc vs its targets (bar = measured ÷ target, log scale; right of the line = better)</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(machineLine(run))}</text>`,
    `<line x1="${x(1)}" y1="${top - 6}" x2="${x(1)}" y2="${height - 24}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${x(1)}" y="${height - 8}" text-anchor="middle" fill="#333">target</text>`,
    `<text x="${labelW}" y="${height - 8}" fill="#777">¼</text>`,
    `<text x="${labelW + chartW}" y="${height - 8}" text-anchor="end" fill="#777">4×</text>`,
  ]
  rows.forEach((row, i) => {
    const y = top + i * (barH + gap)
    parts.push(`<text x="10" y="${y + barH * 0.7}">${escapeXml(row.metric)}</text>`)
    if (row.score === null) {
      parts.push(`<text x="${labelW + 4}" y="${y + barH * 0.7}" fill="#999">not run</text>`)
      return
    }
    const x0 = x(0.25)
    const x1 = x(row.score)
    const color = row.pass ? '#2e9d4b' : '#d1453b'
    parts.push(`<rect x="${x0}" y="${y}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${barH}" fill="${color}" rx="2"/>`)
    parts.push(`<text x="${labelW + chartW + 8}" y="${y + barH * 0.7}">${escapeXml(`${measuredText(row)} (${row.target})`)}</text>`)
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

/** The README section between the markers. */
export function readmeSection(run: RunResult): string {
  return [
    README_START,
    `Measured ${machineLine(run)} with \`npm run bench\` (2 workers; each library in a fresh process, interleaved; ratios are medians of round-by-round ratios, with their min–max).`,
    'Ratios compare libraries measured in the same run; absolute numbers on a shared machine are noise.',
    'Full tables: [bench/results/latest.md](bench/results/latest.md); chart: [bench/results/latest.svg](bench/results/latest.svg).',
    '',
    targetsTable(run),
    README_END,
  ].join('\n')
}

export function replaceReadmeSection(readme: string, run: RunResult): string {
  const start = readme.indexOf(README_START)
  const end = readme.indexOf(README_END)
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} … ${README_END} markers`)
  return readme.slice(0, start) + readmeSection(run) + readme.slice(end + README_END.length)
}

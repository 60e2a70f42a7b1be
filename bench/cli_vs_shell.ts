// `multiproc map` against the shell's ways of using every core on a file of
// lines, and against one plain node process, on the same per-line work:
//
//   node single.mjs <task> in out                            one node process
//   split -n l/2 | xargs -P2 node single.mjs ...             xargs, a node per half
//   parallel --pipepart -a in --block -1 -j2 -k node ...      GNU parallel, a node per part
//   multiproc map tasks.mjs#<task> in -o out -j1 / -j2        the built CLI (dist/)
//
// on a trivial task (500,000 lines) and a CPU task (100,000 lines of 8
// chained SHA-256), plus the CLI's start-up (one line) against `node -e 0`.
// Every case runs once per round, rounds interleaved, so load drifts hit all
// alike; each figure is min–median–max wall seconds of the whole process,
// each ratio taken round by round. The task module is JavaScript.
//
//   npm run build && node --import tsx bench/cli_vs_shell.ts [--rounds 7] [--old <other build's dist/cli/main.js>]
//
// GNU parallel is installed from the distribution's packages when missing
// (apt-get, as root); when it cannot be, its rows are skipped with a note.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SINGLE_PROCESS, TASKS_MODULE, ensureParallel, shellCommand, type LineTask } from './shell_peers.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, old: { type: 'string' }, trivial: { type: 'string', default: '500000' }, cpu: { type: 'string', default: '100000' } } })
const ROUNDS = Number(values.rounds)
const root = fileURLToPath(new URL('..', import.meta.url))
const cli = join(root, 'dist/cli/main.js')
if (!existsSync(cli)) throw new Error('bench/cli_vs_shell.ts runs the built CLI: npm run build first')

interface Case {
  name: string
  /** A shell command run in the work directory; writes its output to `out`. */
  command: (out: string) => string
  /** Compared with the single node process's output after the first round. */
  check: boolean
}

function stats(xs: number[]): [number, number, number] {
  const s = [...xs].sort((a, b) => a - b)
  return [s[0]!, s[Math.floor((s.length - 1) / 2)]!, s[s.length - 1]!]
}

const fmt = ([lo, med, hi]: [number, number, number], digits = 3): string => `${med.toFixed(digits)} (${lo.toFixed(digits)}–${hi.toFixed(digits)})`

const dir = mkdtempSync(join(tmpdir(), 'multiproc-vs-shell-'))
try {
  writeFileSync(join(dir, 'tasks.mjs'), TASKS_MODULE)
  writeFileSync(join(dir, 'single.mjs'), SINGLE_PROCESS)
  const line = (i: number): string => `line ${i + 1} of the benchmark input`
  const inputs = { trivial: Number(values.trivial), cpuish: Number(values.cpu) }
  for (const [task, n] of Object.entries(inputs)) writeFileSync(join(dir, `${task}.txt`), Array.from({ length: n }, (_, i) => line(i)).join('\n') + '\n')
  writeFileSync(join(dir, 'one.txt'), 'one line\n')
  const parallelNote = ensureParallel()
  const old = values.old

  const mp = (path: string, task: string, jobs: number) => (out: string) => `node ${path} map tasks.mjs#${task} ${task}.txt -o ${out} -j ${jobs}`
  const casesFor = (task: LineTask): Case[] => [
    { name: 'node, one process', command: (out) => shellCommand('node', task, out, cli), check: false },
    { name: 'split | xargs -P2 node', command: (out) => shellCommand('xargs -P2', task, out, cli), check: true },
    ...(parallelNote === null ? [{ name: 'parallel --pipepart -j2', command: (out: string) => shellCommand('parallel -j2', task, out, cli), check: true }] : []),
    { name: 'multiproc map -j1', command: mp(cli, task, 1), check: true },
    { name: 'multiproc map -j2', command: mp(cli, task, 2), check: true },
    ...(old === undefined
      ? []
      : [
          { name: 'before: multiproc map -j1', command: mp(old, task, 1), check: true },
          { name: 'before: multiproc map -j2', command: mp(old, task, 2), check: true },
        ]),
  ]
  const groups: { title: string; cases: Case[] }[] = [
    { title: `trivial task, ${inputs.trivial.toLocaleString('en-US')} lines`, cases: casesFor('trivial') },
    { title: `CPU task (8 × SHA-256 a line), ${inputs.cpuish.toLocaleString('en-US')} lines`, cases: casesFor('cpuish') },
    {
      title: 'start-up: one line, JavaScript task module',
      cases: [
        { name: 'node -e 0', command: () => 'node -e 0', check: false },
        { name: 'multiproc map -j1', command: (out) => `node ${cli} map tasks.mjs#trivial one.txt -o ${out} -j 1`, check: false },
        { name: 'multiproc map -j2', command: (out) => `node ${cli} map tasks.mjs#trivial one.txt -o ${out} -j 2`, check: false },
        ...(old === undefined ? [] : [{ name: 'before: multiproc map -j1', command: (out: string) => `node ${old} map tasks.mjs#trivial one.txt -o ${out} -j 1`, check: false }]),
      ],
    },
  ]

  const load = [loadavg()]
  const cpu = cpus()
  console.log(`multiproc map against the shell — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, node ${process.version}`)
  console.log(`load average at the start: ${load[0]!.map((x) => x.toFixed(2)).join(', ')}; ${ROUNDS} interleaved rounds; wall seconds of the whole process, median (min–max)`)
  if (parallelNote !== null) console.log(`note: ${parallelNote}`)
  const times = groups.map((g) => g.cases.map(() => [] as number[]))
  for (let round = 0; round <= ROUNDS; round++) {
    // Round 0 warms the file cache and checks the outputs; it is not counted.
    groups.forEach((group, g) =>
      group.cases.forEach((c, i) => {
        const out = `out.${g}.${i}.txt`
        const started = performance.now()
        const r = spawnSync('sh', ['-c', c.command(out)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
        const seconds = (performance.now() - started) / 1000
        if (r.status !== 0) throw new Error(`${group.title} / ${c.name} failed (${r.status}): ${r.stderr}`)
        if (round === 0 && c.check && readFileSync(join(dir, out), 'utf8') !== readFileSync(join(dir, `out.${g}.0.txt`), 'utf8')) {
          throw new Error(`${group.title} / ${c.name}: its output differs from one node process's`)
        }
        if (round > 0) times[g]![i]!.push(seconds)
      }),
    )
  }
  load.push(loadavg())

  const ratio = (a: number[], b: number[]): [number, number, number] => stats(a.map((x, k) => x / b[k]!))
  groups.forEach((group, g) => {
    console.log(`\n${group.title}`)
    const width = Math.max(...group.cases.map((c) => c.name.length)) + 2
    group.cases.forEach((c, i) => console.log(`  ${c.name.padEnd(width)}${fmt(stats(times[g]![i]!))} s`))
    const index = (name: string): number => group.cases.findIndex((c) => c.name === name)
    const j1 = index('multiproc map -j1')
    const j2 = index('multiproc map -j2')
    if (g < 2) {
      // The yardstick: the fastest of the others by median.
      const others = group.cases.map((_, i) => i).filter((i) => !group.cases[i]!.name.includes('multiproc'))
      const best = others.reduce((a, b) => (stats(times[g]![b]!)[1] < stats(times[g]![a]!)[1] ? b : a))
      console.log(`  -j2 / best other (${group.cases[best]!.name}): ${fmt(ratio(times[g]![j2]!, times[g]![best]!), 2)}`)
      console.log(`  -j2 / -j1: ${fmt(ratio(times[g]![j2]!, times[g]![j1]!), 2)}`)
      const before = index('before: multiproc map -j2')
      if (before >= 0) {
        console.log(`  -j2 / before -j2: ${fmt(ratio(times[g]![j2]!, times[g]![before]!), 2)}`)
        console.log(`  -j1 / before -j1: ${fmt(ratio(times[g]![j1]!, times[g]![index('before: multiproc map -j1')]!), 2)}`)
      }
    } else {
      console.log(`  -j1 minus node -e 0: ${fmt(stats(times[g]![j1]!.map((x, k) => x - times[g]![0]![k]!)), 3)} s`)
    }
  })
  console.log(`\nload average at the end: ${load[1]!.map((x) => x.toFixed(2)).join(', ')}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

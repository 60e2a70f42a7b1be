// `multiproc map` over a generated file: a run with no crash must write
// every line; runs where one line ends its worker must write exactly the
// lines before it, exit 1 and name that line. Thread and process backends.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SoakRow, SoakScenario } from '../scenario.js'
import { count, tempDir } from '../soak_support.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const cli = join(root, 'src/cli/main.ts')
const task = `${fileURLToPath(new URL('../crash_tasks.ts', import.meta.url))}#soakLine`

interface CliRun {
  code: number | null
  stderr: string
  hung: boolean
}

function runCli(args: string[], deadline: number): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    let hung = false
    const timer = setTimeout(() => {
      hung = true
      child.kill('SIGKILL')
    }, Math.max(1000, deadline - Date.now()))
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, hung })
    })
  })
}

async function cliUnderCrashes(backend: string, scale: number, deadline: number): Promise<SoakRow> {
  const n = count(scale, 10_000, 500)
  const runs = count(scale, 10, 2)
  const tmp = tempDir()
  const row: SoakRow = { tried: 0, lost: 0, duplicated: 0, hung: 0, wrong: 0 }
  const notes: string[] = []
  try {
    // Run 0: no crash. Runs 1..: the line at `at` (1-based) crashes its worker.
    for (let run = 0; run <= runs; run++) {
      const at = run === 0 ? 0 : 1 + ((run * 7919) % n)
      const lines = Array.from({ length: n }, (_, i) => (i + 1 === at ? 'crash' : `line ${i + 1}`))
      const input = join(tmp.dir, `in-${run}.txt`)
      const output = join(tmp.dir, `out-${run}.txt`)
      writeFileSync(input, lines.join('\n') + '\n')
      const r = await runCli(['map', task, input, '-o', output, '-j', '2', '--backend', backend], deadline)
      const expectedCount = at === 0 ? n : at - 1
      row.tried += at === 0 ? n : at
      let out: string[] = []
      try {
        out = readFileSync(output, 'utf8').split('\n').slice(0, -1)
      } catch {
        // no output file
      }
      if (r.hung) {
        row.hung += expectedCount - Math.min(out.length, expectedCount) || 1
        notes.push(`run ${run}: killed at the deadline after ${out.length} lines`)
        break
      }
      let wrongLines = 0
      for (let i = 0; i < Math.min(out.length, expectedCount); i++) if (out[i] !== `line ${i + 1}!`) wrongLines++
      row.wrong += wrongLines
      row.lost += Math.max(0, expectedCount - out.length)
      row.duplicated += Math.max(0, out.length - expectedCount)
      const codeOk = at === 0 ? r.code === 0 : r.code === 1 && new RegExp(`a worker crashed on line ${at}: `).test(r.stderr)
      if (!codeOk) {
        row.wrong++
        notes.push(`run ${run} (crash at ${at || 'none'}): exit ${r.code}, stderr ${JSON.stringify(r.stderr.slice(0, 300))}`)
      }
      if (Date.now() > deadline) break
    }
  } finally {
    tmp.remove()
  }
  return notes.length > 0 ? { ...row, pending: notes.join('; ') } : row
}

export const scenarios: SoakScenario[] = [
  { name: 'multiproc map crash line', backend: 'thread', run: ({ scale, deadline }) => cliUnderCrashes('thread', scale, deadline) },
  { name: 'multiproc map crash line', backend: 'process', run: ({ scale, deadline }) => cliUnderCrashes('process', scale, deadline) },
]

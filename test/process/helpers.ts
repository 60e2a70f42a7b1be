import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { root } from '../helpers.js'

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return true // no /proc: kill(pid, 0) succeeded
  }
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A TypeScript program under tsx whose output is watched while it runs. */
export interface Program {
  child: ChildProcess
  stdout(): string
  stderr(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function startProgram(file: string, args: string[] = []): Program {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  // Never leave a test program behind.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  void exited.then(() => clearTimeout(timer))
  return { child, stdout: () => out, stderr: () => err, exited }
}

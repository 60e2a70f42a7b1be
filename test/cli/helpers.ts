import { spawn, type ChildProcess } from 'node:child_process'
import { root } from '../helpers.js'

export const CLI = 'src/cli/main.ts'
export const TASKS = 'test/fixtures/cli_tasks.ts'

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  input?: string
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  nodeArgs?: string[]
}

/** Starts `multiproc <args>` under tsx from the repository root. */
export function startCli(args: string[], options: CliOptions = {}): ChildProcess & { done: Promise<CliResult> } {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', CLI, ...args], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000)
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return Object.assign(child, { done, output: () => stdout })
}

/** Runs `multiproc <args>` to the end, with `input` on stdin. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = startCli(args, options)
  child.stdin!.on('error', () => {}) // the command may exit before reading everything
  child.stdin!.end(options.input ?? '')
  return child.done
}

/** Polls `check` every 50 ms until it is true or `timeoutMs` passed. */
export async function until(check: () => boolean, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return check()
}

export function numberedLines(n: number, prefix = 'item'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`)
}

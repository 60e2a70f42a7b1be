import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const fixtures = new URL('./fixtures/', import.meta.url)
export const tasksModule = new URL('./fixtures/tasks.ts', import.meta.url)
export const root = fileURLToPath(new URL('..', import.meta.url))

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** Resolves with the rejection of `promise`, fails if it resolves. */
export async function rejection(promise: PromiseLike<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, but it resolved')
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs a TypeScript program under tsx in a child process, killed after `timeoutMs`. */
export function runScript(file: string, args: string[] = [], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: root,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: performance.now() - start })
    })
    child.stdin.end(options.input ?? '')
  })
}

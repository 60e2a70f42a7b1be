/**
 * Runs in the worker of a Process: records who it is (for currentProcess())
 * and calls the target. A task like any other for the worker runtime, so a
 * Process reuses the whole worker machinery (loaders, shared arguments,
 * error transport).
 */
import { TaskNotFoundError } from './errors.js'
import { setCurrentProcess, type ProcessInfoData } from './process_info.js'

export async function runProcessTarget(info: ProcessInfoData, module: string, name: string, args: unknown[]): Promise<void> {
  setCurrentProcess(info)
  const ns = (await import(module)) as Record<string, unknown>
  const fn = ns[name]
  if (typeof fn !== 'function') throw new TaskNotFoundError(`Module ${module} has no exported function \`${name}\``)
  // Like Python, the target's return value is dropped.
  await fn(...args)
}

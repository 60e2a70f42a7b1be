/**
 * The library's own tasks that a NatsWorker runs without an allowlist entry.
 *
 * A library module on a worker is named by its package-relative id
 * (`multiproc:cli/line_task.js`), resolved against the worker's own copy of
 * the library, so it needs no `--allow`. Only the exports listed here may be
 * called that way: the other library modules are internals (a worker's runner
 * would run any module) and stay refused. A library task that imports a user
 * module named in its arguments says which, and the worker checks those
 * against its allowlist before the task runs, so the task is no way around it.
 */
import { FLAG_FLAT, KIND_CHUNK, KIND_MASK } from '../../wire/messages.js'

/** From one call's arguments, the user modules the task would import (non-strings are refused). */
type ImportsOf = (args: unknown[]) => unknown[]

const TASKS = new Map<string, ImportsOf>([
  // multiproc map: a batch of lines through the user's `module#name` (cli/line_task.ts).
  ['multiproc:cli/line_task.js#runLineBatch', (args) => [(args[0] as { module?: unknown } | null | undefined)?.module]],
  // multiproc map: one line ([spec, number, text]) through the user's `module#name`.
  ['multiproc:cli/line_task.js#runLine', (args) => [((args[0] as unknown[] | null | undefined)?.[0] as { module?: unknown } | null | undefined)?.module]],
])

/**
 * The library modules whose shareable types (proxies, shared memory) may
 * reach a worker: importing one only registers revivers. Other library
 * modules are not imported on a descriptor's word (some are thread entries).
 */
const SHAREABLE_MODULES = new Set(['multiproc:manager/proxies.js', 'multiproc:shared_memory/shared_memory.js', 'multiproc:shared_memory/shareable_list.js'])

export function isLibraryShareableModule(module: string): boolean {
  return SHAREABLE_MODULES.has(module)
}

/**
 * The user modules a library task unit would import, or null when
 * `module#name` is not a library task workers run. `kind` is the unit's kind
 * word: for KIND_CHUNK `args` holds one argument list per call, with
 * FLAG_FLAT the items themselves (each a call's single argument).
 */
export function libraryTaskImports(module: string, name: string, kind: number, args: unknown[]): unknown[] | null {
  const importsOf = TASKS.get(`${module}#${name}`)
  if (importsOf === undefined) return null
  if ((kind & KIND_MASK) !== KIND_CHUNK) return importsOf(args)
  if ((kind & FLAG_FLAT) !== 0) return args.flatMap((item) => importsOf([item]))
  return args.flatMap((call) => (Array.isArray(call) ? importsOf(call) : [undefined]))
}

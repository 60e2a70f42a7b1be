/**
 * Loads a task function from its module and export name: the one loader of
 * every place that runs tasks (the worker runtime of threads, processes and
 * inline workers, a cluster worker's threads, `multiproc map`'s lines).
 *
 * Its errors say what to fix: TaskImportError (with the import's error as
 * cause) when the module cannot be imported, with a hint when the module is
 * TypeScript and no loader runs; TaskNotFoundError listing the module's
 * exported functions when the export is missing or not a function.
 * Library ids (`multiproc:cli/line_task.js`) resolve against this copy of
 * the library (wire/library_module.ts); messages name the module as given.
 */
import { TaskNotFoundError, taskImportError } from '../errors.js'
import { resolveModule } from '../wire/library_module.js'

/** A loaded task function. */
export type LoadedTask = (...args: unknown[]) => unknown

const TYPESCRIPT_HINT =
  '. The task module is TypeScript: run your program with tsx (`npx tsx main.ts` or `node --import tsx main.ts`), its workers inherit it;' +
  ' a cluster worker runs it only when started under tsx too (`node --import tsx node_modules/multiproc/dist/cli/main.js worker ...`)'

/**
 * Imports `module` and returns its export `name`.
 * @throws TaskImportError when the module cannot be imported
 * @throws TaskNotFoundError when it has no function exported as `name`
 */
export async function loadTask(module: string, name: string): Promise<LoadedTask> {
  let ns: Record<string, unknown>
  try {
    ns = (await import(resolveModule(module))) as Record<string, unknown>
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    if (err?.code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(module) && !err.message.includes(TYPESCRIPT_HINT)) err.message += TYPESCRIPT_HINT
    throw taskImportError(module, error)
  }
  // A CommonJS module whose exports Node could not list shows them on `default` only.
  const cjs = ns.default !== null && typeof ns.default === 'object' ? (ns.default as Record<string, unknown>) : {}
  const fn = ns[name] ?? (Object.hasOwn(cjs, name) ? cjs[name] : undefined)
  if (typeof fn !== 'function') {
    const exported = Object.keys(ns).filter((k) => typeof ns[k] === 'function')
    throw new TaskNotFoundError(
      fn === undefined
        ? `Module ${module} has no export named \`${name}\` (its exported functions: ${exported.join(', ') || 'none'})`
        : `Export \`${name}\` of module ${module} is not a function but ${typeof fn}`,
    )
  }
  return fn as LoadedTask
}

/**
 * `loadTask` once per module and export: later calls share the first
 * load's promise. A failed load is forgotten, so the next call tries again.
 */
export function loadTaskOnce(module: string, name: string): Promise<LoadedTask> {
  const key = `${module}#${name}`
  let loading = cache.get(key)
  if (loading === undefined) {
    loading = loadTask(module, name)
    cache.set(key, loading)
    loading.catch(() => cache.delete(key))
  }
  return loading
}

const cache = new Map<string, Promise<LoadedTask>>()

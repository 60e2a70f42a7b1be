/**
 * Tasks are referenced, never re-evaluated from source.
 *
 * Python pickles a function as "module + qualified name"; we do the same with
 * module URL + export name. Two ways to name a task:
 *
 *   1. Pass an exported function: `pool.submit(square, 3)`. We find the URL of
 *      the module that defines it (see internal/function_location.ts) and the
 *      name it is exported under (by scanning the module's namespace for the
 *      very same function object).
 *   2. A typed reference that does not import the module in the caller:
 *      `tasks<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url)).square`
 *      or `task<typeof square>(url, 'square')`.
 *
 * Closures, non-exported functions, built-ins and bound functions cannot be
 * referenced and are refused with a TypeError that says how to fix it.
 */
import { pathToFileURL } from 'node:url'
import { isAbsolute } from 'node:path'
import { invalidArgType } from './errors.js'
import { functionLocation } from './internal/function_location.js'

/** Any function that can be a task. */
export type TaskFunction = (...args: any[]) => any

const kTaskRef = Symbol.for('multiproc.TaskRef')

/**
 * A reference to an exported function of a module, by module URL and export
 * name. `F` is the function's type, so `submit(ref, ...args)` is type-checked.
 */
export interface TaskRef<F extends TaskFunction = TaskFunction> {
  /** The module: a `file:` URL (or another URL scheme), or a bare package specifier. */
  readonly module: string
  /** The export name (`'default'` for a default export). */
  readonly name: string
  /** Type-level only: the referenced function's type. */
  readonly __type?: F
}

/** A function or a reference to one: what `submit`, `map` and friends accept. */
export type Task<F extends TaskFunction = TaskFunction> = F | TaskRef<F>

/** The function type behind a Task. */
export type TaskFn<T> = T extends TaskRef<infer F> ? F : T extends TaskFunction ? T : never
/** The arguments a Task takes. */
export type TaskArgs<T> = Parameters<TaskFn<T>>
/** What awaiting a Task's Future gives. */
export type TaskResult<T> = Awaited<ReturnType<TaskFn<T>>>

/** Every exported function of module type `M` as a TaskRef. */
export type TaskRefs<M> = {
  readonly [K in keyof M as M[K] extends TaskFunction ? K : never]: M[K] extends TaskFunction ? TaskRef<M[K]> : never
}

/**
 * Whether `value` is a task reference made by `task()` or `tasks()`.
 * @returns true for a TaskRef, false for anything else (a plain function included)
 * @example
 * isTaskRef(task(new URL('./tasks.js', import.meta.url), 'square')) // true
 * isTaskRef(square)                                                  // false
 */
export function isTaskRef(value: unknown): value is TaskRef {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kTaskRef] === true
}

/** Turns the user's module argument into the specifier a worker imports. */
export function normalizeModule(module: string | URL, argName = 'module'): string {
  if (module instanceof URL) return module.href
  if (typeof module !== 'string' || module === '') {
    throw invalidArgType(`Expected \`${argName}\` to be a module URL, an absolute path or a package name, got ${module === '' ? 'an empty string' : String(module)}`)
  }
  if (/^[a-zA-Z][a-zA-Z\d+.-]+:/.test(module)) return module // file:, data:, node:, https: ...
  if (isAbsolute(module)) return pathToFileURL(module).href
  if (module.startsWith('.')) {
    throw invalidArgType(
      `Expected \`${argName}\` to be a module URL, an absolute path or a package name, got the relative path ${JSON.stringify(module)}. ` +
        `A relative path is ambiguous in a worker; write new URL(${JSON.stringify(module)}, import.meta.url) instead`,
    )
  }
  return module // a bare package specifier, resolved by the worker like an import
}

/**
 * A typed reference to the export `name` of `module`, without importing it.
 *
 * @returns a frozen TaskRef that `submit`, `map`, `Pool` and `Process` accept like the function itself
 * @throws TypeError for a relative path (use `new URL(path, import.meta.url)`) or an empty name
 * @example
 * const square = task<(x: number) => number>(new URL('./tasks.js', import.meta.url), 'square')
 * await executor.submit(square, 4) // 16
 */
export function task<F extends TaskFunction = TaskFunction>(module: string | URL, name: string): TaskRef<F> {
  const href = normalizeModule(module)
  if (typeof name !== 'string' || name === '') {
    throw invalidArgType(`Expected \`name\` to be the export name of a function, got ${name === '' ? 'an empty string' : String(name)}`)
  }
  return Object.freeze({ module: href, name, [kTaskRef]: true }) as TaskRef<F>
}

/**
 * Typed references to every exported function of a module, without
 * importing it in the caller (useful for heavy modules and for cluster submitters).
 *
 * @returns an object whose property `name` is the TaskRef of the export `name`
 * @throws TypeError for a relative path (use `new URL(path, import.meta.url)`)
 * @example
 * const t = tasks<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url))
 * await executor.submit(t.square, 4) // 16, type-checked
 */
export function tasks<M>(module: string | URL): TaskRefs<M> {
  const href = normalizeModule(module)
  const cache = new Map<string, TaskRef>()
  return new Proxy(Object.create(null) as TaskRefs<M>, {
    get(_target, prop) {
      if (typeof prop !== 'string') return undefined
      // A Proxy is consulted by `await` and by inspect(); do not pretend to be thenable.
      if (prop === 'then') return undefined
      let ref = cache.get(prop)
      if (ref === undefined) {
        ref = task(href, prop)
        cache.set(prop, ref)
      }
      return ref
    },
  })
}

/** A resolved task: what travels to workers, plus what error messages need. */
export interface ResolvedTask {
  readonly module: string
  readonly name: string
  /** `module#name`, unique per task. */
  readonly key: string
  /** A short human name for messages: `square (tasks.ts)`. */
  readonly label: string
  /**
   * When the caller's module namespace was not loaded yet, the export name
   * is confirmed asynchronously; the executor waits for this before it
   * dispatches the task, and fails the task with its TypeError if it rejects.
   */
  verified: Promise<void> | null
}

const resolvedFunctions = new WeakMap<Function, ResolvedTask | TypeError>()
const resolvedRefs = new WeakMap<object, ResolvedTask>()
const namespaces = new Map<string, Record<string, unknown> | Promise<Record<string, unknown>>>()

function shortModule(module: string): string {
  const slash = module.lastIndexOf('/')
  return slash >= 0 ? module.slice(slash + 1) : module
}

function makeResolved(module: string, name: string): ResolvedTask {
  return { module, name, key: `${module}#${name}`, label: `${name} (${shortModule(module)})`, verified: null }
}

function entryModuleUrl(): string | null {
  const main = process.argv[1]
  if (main === undefined || main === '') return null
  try {
    return pathToFileURL(main).href
  } catch {
    return null
  }
}

function notExported(fn: Function, url: string, line: number): TypeError {
  const name = fn.name ? `\`${fn.name}\`` : 'an anonymous function'
  return invalidArgType(
    `Cannot send ${name} to a worker: it is not exported by its module ${shortModule(url)} (line ${line}). ` +
      'Workers import tasks by module and export name, so a task must be a top-level exported function: ' +
      `write \`export function ${fn.name || 'myTask'}(...)\` in ${shortModule(url)}. A closure cannot be sent; ` +
      'pass the values it captures as arguments instead.',
    'ERR_MP_UNREFERENCEABLE_TASK',
  )
}

function findExport(ns: Record<string, unknown>, fn: Function, remapped: boolean): string | null {
  if (fn.name && ns[fn.name] === fn) return fn.name
  for (const key of Object.keys(ns)) if (ns[key] === fn) return key
  // The caller's copy of the module is another instance than the one an import
  // gives (see FunctionLocation.remapped): the same export name and the same
  // source text is the best evidence left.
  if (remapped && fn.name && typeof ns[fn.name] === 'function') {
    const source = Function.prototype.toString
    if (source.call(ns[fn.name]) === source.call(fn)) return fn.name
  }
  return null
}

function refuse(message: string): TypeError {
  return invalidArgType(message, 'ERR_MP_UNREFERENCEABLE_TASK')
}

function resolveFunction(fn: Function): ResolvedTask | TypeError {
  const displayName = fn.name ? `\`${fn.name}\`` : 'an anonymous function'
  const source = Function.prototype.toString.call(fn)
  if (/\{\s*\[native code\]\s*\}$/.test(source)) {
    const what = fn.name.startsWith('bound ') ? 'a bound function' : 'a built-in function'
    return refuse(
      `Cannot send ${displayName} to a worker: it is ${what}. ` +
        'Wrap the call in an exported function of a task module (e.g. `export function task(x) { return Math.max(...x) }`) and pass that.',
    )
  }
  let location
  try {
    location = functionLocation(fn)
  } catch (error) {
    return refuse(
      `Cannot find the module of ${displayName}: the inspector is unavailable (${(error as Error).message}). ` +
        "Pass a reference instead: task(new URL('./tasks.js', import.meta.url), 'name').",
    )
  }
  if (location === null || location.url === '') {
    return refuse(
      `Cannot send ${displayName} to a worker: it was not defined in a module file (eval, new Function or the REPL). ` +
        'Move it into a module, export it, and pass the exported function.',
    )
  }
  const url = location.url
  // `node -e`, `--print` and stdin run their program from a pseudo-file no worker can import.
  if (/(^|\/)\[(eval|stdin)\d*\]$/.test(url)) {
    return refuse(
      `Cannot send ${displayName} to a worker: it was defined in the program given by -e, --eval, --print or stdin (${url}), which a worker cannot import. ` +
        'Move it into a module file, export it, import it from there and pass the imported function.',
    )
  }
  if (url.startsWith('node:')) return refuse(`Cannot send ${displayName} to a worker: it belongs to Node.js itself (${url}). Wrap the call in an exported function of your own module.`)
  if (url === entryModuleUrl()) {
    return refuse(
      `Cannot send ${displayName} to a worker: it is defined in the program's entry module ${shortModule(url)}, ` +
        'and a worker that imported it would run the whole program again. Move the task into its own module ' +
        "(e.g. tasks.ts) and import it from there (this is Python's `if __name__ == '__main__'` trap, removed).",
    )
  }
  // An anonymous function can still be an export (`module.exports.half = (x) => x / 2`):
  // the namespace scan below finds its name, or says it is not exported.
  const resolved = makeResolved(url, fn.name)
  const ns = namespaces.get(url)
  if (ns !== undefined && !(ns instanceof Promise)) {
    const name = findExport(ns, fn, location.remapped)
    if (name === null) return notExported(fn, url, location.line)
    return name === fn.name ? resolved : makeResolved(url, name)
  }
  // First function from this module: confirm the export name once its
  // namespace is loaded (it already is, as the caller holds the function).
  let pending = ns
  if (pending === undefined) {
    pending = import(url).then((loaded: Record<string, unknown>) => {
      namespaces.set(url, loaded)
      return loaded
    })
    namespaces.set(url, pending)
    pending.catch(() => namespaces.delete(url))
  }
  const result: { -readonly [K in keyof ResolvedTask]: ResolvedTask[K] } = resolved
  result.verified = pending.then(
    (loaded) => {
      const name = findExport(loaded, fn, location.remapped)
      if (name === null) {
        const error = notExported(fn, url, location.line)
        resolvedFunctions.set(fn, error)
        throw error
      }
      if (name !== fn.name) {
        // Exported under another name (`export { f as g }`, `export default f`).
        result.name = name
        result.key = `${url}#${name}`
        result.label = `${name} (${shortModule(url)})`
      }
      result.verified = null
    },
    (error: unknown) => {
      throw refuse(`Cannot load the module of ${displayName} (${url}) to confirm its export: ${(error as Error)?.message ?? error}`)
    },
  )
  result.verified.catch(() => {})
  return result
}

/**
 * A reference to `module#name` that executors name `label` in their
 * messages (a crash, a timeout): a task that runs another one for its
 * caller (a cluster worker's runner) is reported as the task it runs.
 * @internal
 */
export function labelledTask<F extends TaskFunction = TaskFunction>(module: string | URL, name: string, label: string): TaskRef<F> {
  const ref = task<F>(module, name)
  resolvedRefs.set(ref, { ...makeResolved(ref.module, ref.name), label })
  return ref
}

/**
 * Resolves what the user passed as a task. Throws the TypeError that says
 * why a function cannot be referenced. Cached per function and per reference.
 */
export function resolveTask(value: unknown, argName = 'fn'): ResolvedTask {
  if (typeof value === 'function') {
    let resolved = resolvedFunctions.get(value)
    if (resolved === undefined) {
      resolved = resolveFunction(value)
      resolvedFunctions.set(value, resolved)
    }
    if (resolved instanceof TypeError) throw resolved
    return resolved
  }
  if (isTaskRef(value)) {
    let resolved = resolvedRefs.get(value)
    if (resolved === undefined) {
      resolved = makeResolved(value.module, value.name)
      resolvedRefs.set(value, resolved)
    }
    return resolved
  }
  throw invalidArgType(
    `Expected \`${argName}\` to be an exported function or a task reference (task(url, name)), got ${value === null ? 'null' : typeof value}`,
  )
}

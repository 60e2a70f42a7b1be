/**
 * The modules a cluster worker may import for a task: the entries of its
 * `allow` list (files, directories, URLs, package names), and the library's
 * own tasks and shareable types (library_tasks.ts). A task is checked
 * before it runs, with the modules its shareable arguments name, so a
 * module off the list is never loaded.
 */
import { isAbsolute, resolve } from 'node:path'
import { existsSync, statSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { FLAG_SHARED } from '../../wire/messages.js'
import { isLibraryModuleId } from '../../wire/library_module.js'
import { isLibraryShareableModule, libraryTaskImports } from './library_tasks.js'
import type { TaskUnit } from './protocol.js'

const URL_LIKE = /^[a-zA-Z][a-zA-Z\d+.-]+:/

export class ModuleAllowlist {
  readonly #exact = new Set<string>()
  readonly #prefixes: string[] = []
  /** The worker, as messages name it. */
  readonly #who: string

  /** `entries` relative to `root`; `who` names the worker in refusals. */
  constructor(entries: readonly string[], root: string, who: string) {
    this.#who = who
    for (const entry of entries) this.#add(entry, root)
  }

  /** Whether a task may name `module` (its URL or specifier). */
  allows(module: string): boolean {
    let key = module
    try {
      if (URL_LIKE.test(module)) key = new URL(module).href
    } catch {
      return false
    }
    if (this.#exact.has(key)) return true
    return this.#prefixes.some((prefix) => key.startsWith(prefix))
  }

  /**
   * Why `unit` may not run here, or null when it may. The library's own
   * modules (`multiproc:` ids) need no entry: the modules of its shareable
   * types always pass, its tasks when listed in library_tasks.ts, and the
   * user modules such a task would import must be on the list like any
   * task module.
   */
  refusal(unit: TaskUnit): string | null {
    const modules = new Set<string>()
    if (isLibraryModuleId(unit.m)) {
      const imports = libraryTaskImports(unit.m, unit.n, unit.k, unit.a)
      if (imports === null) return `${unit.m}#${unit.n} is not a library task that ${this.#who} runs, so it was not loaded`
      for (const module of imports) {
        if (typeof module !== 'string') return `${unit.m}#${unit.n} names no user module (got ${String(module)}), so ${this.#who} did not run it`
        modules.add(module)
      }
    } else {
      modules.add(unit.m)
    }
    const shared = new Set<string>()
    if ((unit.k & FLAG_SHARED) !== 0) shareModules(unit.a, shared)
    for (const module of shared) if (!isLibraryShareableModule(module)) modules.add(module)
    for (const module of modules) {
      if (isLibraryModuleId(module)) return `Library module ${module} is neither a user module nor one that defines a shareable type, so ${this.#who} did not load it`
      if (!this.allows(module)) {
        return `Module ${module} is not on the allowlist of ${this.#who}, so it was not loaded. Start the worker with --allow ${module.startsWith('file:') ? new URL(module).pathname : module} (or a directory holding it)`
      }
    }
    return null
  }

  #add(entry: string, root: string): void {
    if (URL_LIKE.test(entry)) {
      const href = new URL(entry).href
      if (href.endsWith('/')) this.#prefixes.push(href)
      else this.#exact.add(href)
      return
    }
    if (isAbsolute(entry) || entry.startsWith('.') || entry.includes('/') || existsSync(resolve(root, entry))) {
      const path = resolve(root, entry)
      const isDir = existsSync(path) && statSync(path).isDirectory()
      const href = pathToFileURL(path).href
      if (isDir) this.#prefixes.push(href.endsWith('/') ? href : `${href}/`)
      else this.#exact.add(href)
      return
    }
    // A package name: the package itself and its subpaths.
    this.#exact.add(entry)
    this.#prefixes.push(`${entry}/`)
  }
}

/** The modules the share descriptors (wire/shareable.ts) in `value` name. */
function shareModules(value: unknown, out: Set<string>, seen = new Set<object>()): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return
  seen.add(value)
  const d = value as { $?: unknown; module?: unknown }
  if (d.$ === 'mp-share' && typeof d.module === 'string') {
    out.add(d.module)
    return
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return
  if (value instanceof Map) for (const [k, v] of value) (shareModules(k, out, seen), shareModules(v, out, seen))
  else if (value instanceof Set) for (const v of value) shareModules(v, out, seen)
  else for (const key of Object.keys(value)) shareModules((value as Record<string, unknown>)[key], out, seen)
}

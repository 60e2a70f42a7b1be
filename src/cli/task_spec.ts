/**
 * `<module>#<export>` on the command line → a task reference a worker can
 * import. The module is a path relative to the current directory (or
 * absolute), or a package name resolved from the current directory; without
 * `#export` the default export is used.
 */
import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UsageError } from './args.js'

export interface TaskSpec {
  /** What the user typed before `#`. */
  readonly path: string
  /** The module's URL, as a worker imports it. */
  readonly href: string
  /** The export name. */
  readonly name: string
  /** The module is TypeScript: workers need a loader. */
  readonly typescript: boolean
}

export function parseTaskSpec(spec: string, cwd = process.cwd()): TaskSpec {
  const hash = spec.lastIndexOf('#')
  const path = hash >= 0 ? spec.slice(0, hash) : spec
  const name = hash >= 0 ? spec.slice(hash + 1) : 'default'
  if (path === '') throw new UsageError(`Expected a task as <module>#<export>, got ${JSON.stringify(spec)}`)
  if (name === '') throw new UsageError(`Expected an export name after "#" in ${JSON.stringify(spec)}`)
  const file = resolve(cwd, path)
  let resolved: string | null = null
  if (existsSync(file) && statSync(file).isFile()) {
    resolved = file
  } else if (!path.startsWith('.') && !path.startsWith('/')) {
    try {
      resolved = createRequire(join(cwd, 'noop.js')).resolve(path)
    } catch {
      // not a package either
    }
  }
  if (resolved === null) throw new UsageError(`Cannot find the task module ${JSON.stringify(path)} (looked for ${file})`)
  return { path, href: pathToFileURL(resolved).href, name, typescript: /\.[cm]?tsx?$/.test(resolved) }
}

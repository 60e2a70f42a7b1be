/**
 * Package-relative ids for the library's own modules: `multiproc:manager/proxies.js`.
 *
 * A worker on another machine has the library at another path, so the
 * caller's file URL of a library module means nothing there. Descriptors of
 * the library's own shareable types and the library's own tasks (the line
 * batches of `multiproc map`) therefore name their module by its path inside
 * the library; each worker resolves the id against its own copy. Modules
 * outside the library keep their URL.
 *
 *   caller: file:///home/a/app/node_modules/multiproc/dist/manager/proxies.js ──▶ multiproc:manager/proxies.js
 *   worker: multiproc:manager/proxies.js ──▶ file:///srv/w/node_modules/multiproc/dist/manager/proxies.js
 */
import { invalidArgValue } from '../errors.js'

export const LIBRARY_SCHEME = 'multiproc:'

/** The library's root (src/ or dist/): this file lives in its wire/ folder. */
const ROOT = new URL('../', import.meta.url).href
/** Source runs as .ts (under a loader), a build as .js; ids always say .js. */
const OWN_EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
/** Folder names and a file name of letters, digits and `_`: no `..`, no escaping the root. */
const RELATIVE = /^[A-Za-z0-9_]+(?:\/[A-Za-z0-9_]+)*\.js$/

/** The id of `url` when it is a module of this library; otherwise `url` unchanged. */
export function libraryModuleId(url: string): string {
  if (!url.startsWith(ROOT)) return url
  const relative = url.slice(ROOT.length).replace(/\.ts$/, '.js')
  return RELATIVE.test(relative) ? LIBRARY_SCHEME + relative : url
}

/** Whether `module` is a package-relative id of a library module. */
export function isLibraryModuleId(module: string): boolean {
  return module.startsWith(LIBRARY_SCHEME)
}

/**
 * The URL this process imports for `module`: a library id resolved against
 * this copy of the library, anything else unchanged.
 * @throws RangeError (ERR_MP_INVALID_ARG_VALUE) for a malformed library id
 */
export function resolveModule(module: string): string {
  if (!isLibraryModuleId(module)) return module
  const relative = module.slice(LIBRARY_SCHEME.length)
  if (!RELATIVE.test(relative)) throw invalidArgValue(`Expected a library module id such as multiproc:manager/proxies.js, got ${JSON.stringify(module)}`)
  return new URL(relative.slice(0, -3) + OWN_EXTENSION, ROOT).href
}

/**
 * Where the thread and process backends find the module a worker starts at.
 *
 * Installed as a package (or run from source), the worker files sit next to
 * the library: worker/bootstrap.js and worker/process_bootstrap.js. Inside a
 * bundle they do not exist (a bundler copies only what is imported), so the
 * backends then start `multiproc/worker` (worker/entry.ts), which the bundle
 * holds when it was given as an entry point. Looked up in this order:
 *
 * 1. MULTIPROC_WORKER_ENTRY (a path or file: URL), when set;
 * 2. the library's own worker file, when it exists;
 * 3. multiproc-worker.js (or .mjs / .cjs) in the folder of the bundled code
 *    that runs this, then in the folder of the program's main file.
 */
import { existsSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { UnsupportedBackendError } from '../errors.js'

/** Worker starts are frequent: look each file up once per process. */
const cache = new Map<string, { url: URL; bundled: boolean }>()

const BUNDLED_NAMES = ['multiproc-worker.js', 'multiproc-worker.mjs', 'multiproc-worker.cjs']

function fromEnv(value: string): URL {
  if (value.startsWith('file:')) return new URL(value)
  return pathToFileURL(isAbsolute(value) ? value : resolve(value))
}

/**
 * The URL a worker starts at.
 * @param own the library's own worker file for this backend, relative to the caller's module
 * @param here the caller's `import.meta.url` (inside a bundle: the bundled chunk)
 * @throws UnsupportedBackendError (ERR_MP_UNSUPPORTED_BACKEND) when neither file exists (a bundle without `multiproc/worker`)
 */
export function workerEntry(own: URL, here: string): { url: URL; bundled: boolean } {
  const key = `${process.env.MULTIPROC_WORKER_ENTRY ?? ''}\0${own.href}`
  let found = cache.get(key)
  if (found === undefined) {
    found = lookup(own, here)
    cache.set(key, found)
  }
  return found
}

function lookup(own: URL, here: string): { url: URL; bundled: boolean } {
  const configured = process.env.MULTIPROC_WORKER_ENTRY
  if (configured !== undefined && configured !== '') {
    const url = fromEnv(configured)
    if (!existsSync(url)) throw new UnsupportedBackendError(`MULTIPROC_WORKER_ENTRY names ${fileURLToPath(url)}, which does not exist`)
    return { url, bundled: true }
  }
  if (existsSync(own)) return { url: own, bundled: false }
  const folders = [dirname(fileURLToPath(here))]
  if (process.argv[1] !== undefined) folders.push(dirname(resolve(process.argv[1])))
  for (const folder of folders) {
    for (const name of BUNDLED_NAMES) {
      const file = join(folder, name)
      if (existsSync(file)) return { url: pathToFileURL(file), bundled: true }
    }
  }
  throw new UnsupportedBackendError(
    `multiproc cannot find its worker entry: ${fileURLToPath(own)} does not exist, and no multiproc-worker.js is next to ${folders.join(' or ')}. ` +
      'A bundled program must include multiproc/worker as an entry point named multiproc-worker ' +
      '(esbuild: multiproc-worker=multiproc/worker; Rollup/Vite: input { "multiproc-worker": "multiproc/worker" }), ' +
      'or set MULTIPROC_WORKER_ENTRY to the bundled file.',
  )
}

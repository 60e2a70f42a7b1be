/**
 * Finds the script URL a function was defined in, synchronously.
 *
 * V8 records a `[[FunctionLocation]]` (script id, line, column) for every
 * JavaScript function; the inspector exposes it, and `Debugger.scriptParsed`
 * maps script ids to URLs. A same-thread inspector session answers `post()`
 * synchronously, which keeps `submit()` synchronous.
 *
 * Cost: a script id is mapped to its URL with `Profiler.getBestEffortCoverage`,
 * which lists every script that has live functions with its URL, without
 * enabling any domain (about 4 ms, where enabling the Debugger domain to
 * replay `scriptParsed` for Node's ~190 scripts takes 25-40 ms and is on
 * the critical path of a pool's first task). The Debugger domain remains the
 * fallback for a script the coverage does not list. A script loaded later
 * costs one more lookup. Each function is looked up once (the caller caches
 * per function).
 */
import { Session } from 'node:inspector'
import { findSourceMap } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

export interface FunctionLocation {
  /** The URL of the script, '' when it has none (eval, `new Function`, REPL). */
  url: string
  line: number
  column: number
  /**
   * True when the script ran from another URL than its file's (tsx runs
   * TypeScript of CommonJS packages from a data: URL): importing `url` then
   * gives another instance of the module, so identity checks cannot work.
   */
  remapped: boolean
}

let session: Session | null = null
const scriptUrls = new Map<string, string>()

function post<R>(method: string, params?: object): R {
  let result: R | undefined
  let failure: Error | null = null
  let answered = false
  session!.post(method, params ?? {}, (error, response) => {
    failure = error
    result = response as R
    answered = true
  })
  // A connected same-thread session answers synchronously; anything else is a bug we must not hide.
  if (!answered) throw new Error(`inspector did not answer ${method} synchronously`)
  if (failure !== null) throw failure
  return result as R
}

function connect(): void {
  if (session !== null) return
  const s = new Session()
  s.connect()
  s.on('Debugger.scriptParsed', (message) => {
    const { scriptId, url } = message.params
    scriptUrls.set(scriptId, url)
  })
  session = s
}

function learnScripts(scriptId: string): void {
  const { result } = post<{ result: { scriptId: string; url: string }[] }>('Profiler.getBestEffortCoverage')
  for (const script of result) scriptUrls.set(script.scriptId, script.url)
  if (scriptUrls.has(scriptId)) return
  post('Debugger.enable')
  post('Debugger.disable')
}

const kSlot = '__multiprocFunctionLocation__'

/**
 * Returns where `fn` was defined, or null when V8 has no location for it
 * (built-ins, bound functions, host functions).
 */
export function functionLocation(fn: Function): FunctionLocation | null {
  connect()
  const g = globalThis as Record<string, unknown>
  g[kSlot] = fn
  let location: { scriptId: string; lineNumber: number; columnNumber: number } | undefined
  try {
    const { result } = post<{ result: { objectId?: string } }>('Runtime.evaluate', {
      expression: `globalThis.${kSlot}`,
      objectGroup: 'multiproc',
      silent: true,
    })
    if (result.objectId === undefined) return null
    const { internalProperties } = post<{ internalProperties?: { name: string; value?: { value?: unknown } }[] }>(
      'Runtime.getProperties',
      { objectId: result.objectId, ownProperties: true },
    )
    const prop = internalProperties?.find((p) => p.name === '[[FunctionLocation]]')
    location = prop?.value?.value as typeof location
  } finally {
    delete g[kSlot]
    post('Runtime.releaseObjectGroup', { objectGroup: 'multiproc' })
  }
  if (location === undefined) return null
  if (!scriptUrls.has(location.scriptId)) learnScripts(location.scriptId)
  return originalPosition(scriptUrls.get(location.scriptId) ?? '', location.lineNumber, location.columnNumber)
}

/**
 * Undoes what a loader did to the location: tsx runs TypeScript of a
 * CommonJS package from a `data:` URL that ends in `?filePath=<path>`, and
 * transformed code has other line numbers than the source (its source map,
 * when the loader registered one, says which).
 */
function originalPosition(url: string, line0: number, column0: number): FunctionLocation {
  let remapped = false
  if (url.startsWith('data:')) {
    const match = /[?&]filePath=([^&#]*)$/.exec(url)
    if (match !== null) {
      url = pathToFileURL(decodeURIComponent(match[1]!)).href
      remapped = true
    }
  }
  let line = line0 + 1
  let column = column0 + 1
  if (url.startsWith('file:')) {
    try {
      const entry = findSourceMap(fileURLToPath(url))?.findEntry(line0, column0) as { originalLine?: number; originalColumn?: number } | undefined
      if (entry?.originalLine !== undefined) {
        line = entry.originalLine + 1
        column = (entry.originalColumn ?? 0) + 1
      }
    } catch {
      // no usable source map: keep the generated position
    }
  }
  return { url, line, column, remapped }
}

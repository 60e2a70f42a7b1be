/**
 * TypeScript task modules when the CLI itself runs as JavaScript (from dist).
 *
 * Under tsx (`npx tsx src/cli/main.ts`, `node --import tsx ...`) there is
 * nothing to do: workers inherit the loader from the execArgv. From dist we
 * register tsx in this process (for the inline backend) and add its loader
 * to `process.execArgv`, which is where the backends read the options
 * their workers inherit.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UsageError } from './args.js'

function underTsx(): boolean {
  return import.meta.url.endsWith('.ts') || process.execArgv.some((a) => /(^|[\\/=])tsx([\\/]|$)/.test(a))
}

function tsxRoot(): string | null {
  for (const base of [join(process.cwd(), 'noop.js'), import.meta.url]) {
    try {
      return dirname(createRequire(base).resolve('tsx/package.json'))
    } catch {
      // not installed there
    }
  }
  return null
}

let ready: Promise<void> | null = null

/** Makes `.ts` task modules loadable here and in workers; a UsageError when tsx is not installed. */
export function enableTypeScript(modulePath: string): Promise<void> {
  if (underTsx()) return Promise.resolve()
  ready ??= (async () => {
    const root = tsxRoot()
    if (root === null) {
      throw new UsageError(
        `The task module ${modulePath} is TypeScript, and tsx is not installed: run \`npm install --save-dev tsx\`, ` +
          'or run the command under it (`npx tsx node_modules/multiproc/dist/cli/main.js ...`), or compile the module',
      )
    }
    // Both hooks, as worker threads get them: ESM, and CommonJS for a .ts file outside a "type": "module" package.
    for (const api of ['dist/esm/api/index.mjs', 'dist/cjs/api/index.mjs']) {
      ;((await import(pathToFileURL(join(root, api)).href)) as { register(): unknown }).register()
    }
    process.execArgv.push('--import', pathToFileURL(join(root, 'dist/loader.mjs')).href)
  })()
  return ready
}

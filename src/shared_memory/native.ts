/**
 * Loads the POSIX shared memory addon (native/shm.c). Where it comes from,
 * first found wins (the order node-gyp-build uses):
 *
 * 1. `compiled`: build/Release/multiproc_shm.node, built from source by
 *    `node scripts/build_native.mjs`, when someone ran it;
 * 2. `prebuilt`: prebuilds/<platform>-<arch>/multiproc_shm.<libc>.node,
 *    shipped in the package (see scripts/build_prebuilds.mjs), so installing
 *    needs no compiler and no install script; in a bundle, a prebuilds/
 *    folder copied next to the bundled file.
 *
 * The lookup is written here rather than taken from node-gyp-build because
 * the core has no runtime dependencies and the rule is a dozen lines: one
 * addon name, Linux only, two libcs.
 *
 * `null` when none loads (no prebuild for this platform and nothing
 * compiled) or when turned off with MULTIPROC_NO_NATIVE=1: SharedMemory then
 * falls back to SharedArrayBuffers, which reach worker threads but not child
 * processes; {@link nativeShmStatus} says which case applies and
 * {@link nativeShmHelp} how to get the addon.
 */
import { createRequire } from 'node:module'
import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface NativeShm {
  /** Maps `name` (with its leading slash); creates it exclusively with `size` bytes when `create`. */
  open(name: string, create: boolean, size: number): { buffer: ArrayBuffer; inode: number }
  /** Which block `name` means now (its inode). */
  inode(name: string): number
  /** Unmaps now and detaches the buffer. */
  unmap(buffer: ArrayBuffer): void
  /** Removes the name; mappings stay valid. */
  unlink(name: string): void
}

/** Which shared memory implementation is active, and why. */
export type NativeShmStatus =
  | { source: 'prebuilt' | 'compiled'; file: string }
  | { source: 'fallback'; reason: string }

const ADDON = 'multiproc_shm'

/**
 * musl or glibc: which dynamic loader the node binary itself asks for (its
 * ELF interpreter, near the start of the file). Whether /lib/ld-musl-* exists
 * says nothing: Debian's musl-tools installs it on a glibc system.
 */
function libc(): 'musl' | 'glibc' {
  let fd: number | undefined
  try {
    fd = openSync(process.execPath, 'r')
    const head = Buffer.alloc(4096)
    const n = readSync(fd, head, 0, head.length, 0)
    return head.subarray(0, n).includes('ld-musl-') ? 'musl' : 'glibc'
  } catch {
    return 'glibc'
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** The package root: the nearest directory above this file that holds package.json (src/ or dist/ sit one level below it). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir
    dir = dirname(dir)
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..')
}

/** The prebuilt addon's path for this platform (it may not exist). */
export function prebuiltShmPath(root = packageRoot()): string {
  return join(root, 'prebuilds', `${process.platform}-${process.arch}`, `${ADDON}.${libc()}.node`)
}

function load(): { addon: NativeShm | null; status: NativeShmStatus } {
  if (process.env.MULTIPROC_NO_NATIVE === '1') return { addon: null, status: { source: 'fallback', reason: 'turned off by MULTIPROC_NO_NATIVE=1' } }
  if (process.platform !== 'linux') return { addon: null, status: { source: 'fallback', reason: `no POSIX shared memory addon for ${process.platform}` } }
  const root = packageRoot()
  const candidates: [source: 'compiled' | 'prebuilt', file: string][] = [
    ['compiled', join(root, 'build', 'Release', `${ADDON}.node`)],
    ['prebuilt', prebuiltShmPath(root)],
    // Inside a bundle this module is a chunk of the bundle: prebuilds/ copied next to it.
    ['prebuilt', prebuiltShmPath(dirname(fileURLToPath(import.meta.url)))],
  ]
  const failures: string[] = []
  for (const [source, file] of candidates) {
    if (!existsSync(file)) continue
    try {
      return { addon: createRequire(import.meta.url)(file) as NativeShm, status: { source, file } }
    } catch (error) {
      failures.push(`${file} did not load (${(error as Error).message.split('\n')[0]})`)
    }
  }
  const reason =
    failures.length > 0
      ? failures.join('; ')
      : `no prebuilt addon for ${process.platform}-${process.arch} (${libc()}) in this package and none compiled`
  return { addon: null, status: { source: 'fallback', reason } }
}

const loaded = load()

/** The addon, or null when SharedMemory uses SharedArrayBuffers. */
export const nativeShm: NativeShm | null = loaded.addon

/** Which implementation is active: the prebuilt or compiled addon, or the fallback with the reason. */
export const nativeShmStatus: NativeShmStatus = loaded.status

/** How to get the addon when it is missing, for error messages. */
export function nativeShmHelp(): string {
  if (nativeShmStatus.source !== 'fallback') return ''
  if (process.env.MULTIPROC_NO_NATIVE === '1') return `The shared memory addon is ${nativeShmStatus.reason}: unset it to use the addon.`
  return (
    `The shared memory addon is not loaded: ${nativeShmStatus.reason}. ` +
    'Compile it from source with `node node_modules/multiproc/scripts/build_native.mjs` (needs a C compiler, make and python3).'
  )
}

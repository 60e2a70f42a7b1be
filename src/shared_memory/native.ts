/**
 * Loads the POSIX shared memory addon (native/shm.cc, built at install by
 * scripts/build_native.mjs). `null` when it is missing (no compiler at
 * install, a platform without POSIX shm) or turned off with
 * MULTIPROC_NO_NATIVE=1: SharedMemory then falls back to SharedArrayBuffers,
 * which reach worker threads but not child processes.
 */
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
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

function load(): NativeShm | null {
  if (process.env.MULTIPROC_NO_NATIVE === '1') return null
  // The package root holds build/: two levels up from src/shared_memory or dist/shared_memory.
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    const file = join(dir, 'build', 'Release', 'multiproc_shm.node')
    if (existsSync(file)) {
      try {
        return createRequire(import.meta.url)(file) as NativeShm
      } catch {
        return null
      }
    }
    dir = dirname(dir)
  }
  return null
}

export const nativeShm: NativeShm | null = load()

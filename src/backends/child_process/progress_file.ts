/**
 * The progress file of a child-process worker: three Int32, the number of
 * tasks the worker has started and the index of the chunk item it started
 * last (both written before each task, the index again before each item of
 * a chunk), and the number it has finished (written before each batch of
 * results is sent). Threads share
 * such counters in memory; processes cannot, but a file opened by both sides
 * is shared through the page cache, survives the worker's death (even
 * SIGKILL), and costs the worker one pwrite per task, one per chunk item
 * after the first, and one per batch.
 *
 * The file is unlinked as soon as it is open: only the two file descriptors
 * keep it, so nothing is left behind whatever happens to either process.
 * It lives in /dev/shm (memory) when that exists, else in the temp dir.
 *
 * In /dev/shm the worker may map it instead (`shmName`, through the shared
 * memory addon): then a write is a store to memory, not a system call, which
 * matters for the item index written before every item of a map chunk
 * (a pwrite per item made a map of a million tiny items on processes about
 * twice as slow). The file then stays named until the worker has mapped it
 * and unlinked it, or until close() here, whichever comes first.
 */
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, accessSync, constants } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

let directory: string | undefined

function pickDirectory(): string {
  if (directory !== undefined) return directory
  directory = tmpdir()
  try {
    accessSync('/dev/shm', constants.W_OK)
    directory = '/dev/shm'
  } catch {
    // no /dev/shm: the temp dir is as good, just on disk
  }
  return directory
}

/** What a worker recorded: tasks started, the chunk item started last, and tasks finished as of its last batch of results. */
export interface Progress {
  started: number
  item: number
  finished: number
}

/** Byte offsets in the file: [started, item] are written together before a task. */
export const PROGRESS_STARTED = 0
export const PROGRESS_ITEM = 4
export const PROGRESS_FINISHED = 8
export const PROGRESS_BYTES = 12

export class ProgressFile {
  /** The caller's descriptor; the worker gets it as a stdio entry. */
  readonly fd: number
  /** The POSIX shared memory name the worker may map the file by (in /dev/shm only), else null. */
  readonly shmName: string | null
  readonly #path: string
  readonly #buffer = new Int32Array(3)
  #closed = false

  /** `mappable`: keep the file named for the worker to map (when it lives in /dev/shm). */
  constructor(mappable = false) {
    const dir = pickDirectory()
    const base = `multiproc-${process.pid}-${randomBytes(6).toString('hex')}`
    this.#path = join(dir, base)
    this.fd = openSync(this.#path, 'w+', 0o600)
    this.shmName = mappable && dir === '/dev/shm' ? `/${base}` : null
    if (this.shmName !== null) {
      ftruncateSync(this.fd, PROGRESS_BYTES)
      return
    }
    try {
      unlinkSync(this.#path)
    } catch {
      // still usable; the temp dir is cleaned eventually
    }
  }

  read(): Progress {
    if (!this.#closed) {
      const n = readSync(this.fd, this.#buffer, 0, PROGRESS_BYTES, 0)
      if (n < PROGRESS_BYTES) this.#buffer.fill(0)
    }
    return { started: this.#buffer[0]!, item: this.#buffer[1]!, finished: this.#buffer[2]! }
  }

  /** Reads one last time and closes. */
  close(): Progress {
    const progress = this.read()
    if (!this.#closed) {
      this.#closed = true
      closeSync(this.fd)
      if (this.shmName !== null) {
        try {
          unlinkSync(this.#path)
        } catch {
          // the worker unlinked it once mapped (the usual case)
        }
      }
    }
    return progress
  }
}

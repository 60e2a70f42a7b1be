/**
 * The progress file of a child-process worker: 4 bytes holding the number
 * of tasks the worker has started. Threads share such a counter in memory;
 * processes cannot, but a file opened by both sides is shared through the
 * page cache, survives the worker's death (even SIGKILL), and costs the
 * worker one pwrite per task.
 *
 * The file is unlinked as soon as it is open: only the two file descriptors
 * keep it, so nothing is left behind whatever happens to either process.
 * It lives in /dev/shm (memory) when that exists, else in the temp dir.
 */
import { closeSync, openSync, readSync, unlinkSync, accessSync, constants } from 'node:fs'
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

export class ProgressFile {
  /** The caller's descriptor; the worker gets it as a stdio entry. */
  readonly fd: number
  readonly #buffer = new Int32Array(1)
  #closed = false

  constructor() {
    const path = join(pickDirectory(), `multiproc-${process.pid}-${randomBytes(6).toString('hex')}`)
    this.fd = openSync(path, 'w+', 0o600)
    try {
      unlinkSync(path)
    } catch {
      // still usable; the temp dir is cleaned eventually
    }
  }

  /** Tasks the worker has started, 0 before the first. */
  read(): number {
    if (this.#closed) return this.#buffer[0]!
    const n = readSync(this.fd, this.#buffer, 0, 4, 0)
    return n === 4 ? this.#buffer[0]! : 0
  }

  /** Reads one last time and closes. */
  close(): number {
    if (this.#closed) return this.#buffer[0]!
    const started = this.read()
    this.#closed = true
    this.#buffer[0] = started
    closeSync(this.fd)
    return started
  }
}

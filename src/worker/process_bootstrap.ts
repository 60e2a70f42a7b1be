/**
 * Entry point of a child-process worker (the `process` backend). Everything
 * a worker does lives in runtime.ts; this file wires it to the IPC channel.
 *
 *   parent ──IPC, advanced serialization──▶ this process
 *            first message { t: 'init', init }, then the usual ToWorker messages
 *
 * - Progress for crash attribution: before each task, the number of tasks
 *   started so far (and before each item of a chunk, the item's index) goes to fd 4, a small file that the parent holds too (it
 *   unlinked it at once, so nothing is left behind); before each batch of
 *   results is sent, the number of tasks finished. After a crash the parent
 *   reads both and knows exactly which task was running. One pwrite (about
 *   1 µs) per task and one per batch, while results still travel in batches.
 * - The IPC channel is made blocking, so a flushed result is in the kernel
 *   before the next task starts: a crash loses no flushed result, and a
 *   task calling process.exit() right after a large batch loses nothing.
 * - The parent's death: the IPC channel closes ('disconnect') → exit; a
 *   watchdog thread covers tasks that never yield (orphan_watchdog.ts).
 * - SIGINT is ignored. Ctrl-C in a terminal reaches the whole process
 *   group; the parent decides what happens (it may shut down gracefully),
 *   and if it dies its workers follow.
 */
import { writeSync } from 'node:fs'
import { nativeShm } from '../shared_memory/native.js'
import { TaskRunner } from './runtime.js'
import { guardExit } from './exit_guard.js'
import { startOrphanWatchdog } from './orphan_watchdog.js'
import { kProcessWorker } from '../process_info.js'
import { PROTOCOL_VERSION, type FromWorker, type ToWorker, type WorkerInit } from '../wire/messages.js'
import { serializeError, type SerializedError } from '../wire/remote_error.js'

/** The file descriptor of the progress file (stdio index 4 of the fork). */
export const PROGRESS_FD = 4

const parentPid = Number(process.argv[2])
if (typeof process.send !== 'function' || process.ppid !== parentPid) {
  // Not started by multiproc, or the parent is already gone.
  process.exit(1)
}

// currentProcess() inside this worker says PoolWorker-<pid>, not MainProcess.
;(globalThis as { [kProcessWorker]?: boolean })[kProcessWorker] = true
makeChannelBlocking()
startOrphanWatchdog(parentPid)
process.on('SIGINT', () => {})

const send = (message: FromWorker): void => {
  process.send!(message)
}
// [started, item, finished]: see progress_file.ts. Mapped when the caller
// named it (stores instead of pwrites), else written with pwrite.
const mappedProgress = mapProgress(process.argv[3])
const mapped = mappedProgress !== null
const progress = mappedProgress ?? new Int32Array(3)
try {
  if (!mapped) writeSync(PROGRESS_FD, progress, 0, 12, 0)
} catch (error) {
  // Without it the caller could not tell which task killed this worker, and
  // would run that task again and again: refuse to start instead.
  send({ t: 'fatal', e: serializeError(new Error(`Cannot write the progress file (fd ${PROGRESS_FD}): ${(error as Error).message}`)) as SerializedError })
  process.exit(1)
}
let runner: TaskRunner | null = null
let realExit: (code?: number) => never = process.exit.bind(process) as (code?: number) => never

process.on('disconnect', () => realExit(0))
process.on('message', (message: ToWorker | { t: 'init'; init: WorkerInit }) => {
  if (runner !== null) {
    runner.receive(message as ToWorker)
    return
  }
  if (message.t !== 'init') return
  const init = message.init
  if (init.v !== PROTOCOL_VERSION) {
    send({ t: 'fatal', e: serializeError(new Error(`multiproc protocol mismatch: caller speaks v${init.v}, worker v${PROTOCOL_VERSION}`)) as SerializedError })
    realExit(1)
  }
  runner = new TaskRunner(
    {
      // Transfer lists do not apply between processes: values are copied.
      post: send,
      started(count) {
        progress[1] = 0
        progress[0] = count
        if (!mapped) writeSync(PROGRESS_FD, progress, 0, 8, 0)
      },
      item(index) {
        progress[1] = index
        if (!mapped) writeSync(PROGRESS_FD, progress, 4, 4, 4)
      },
      finished(count) {
        progress[2] = count
        if (!mapped) writeSync(PROGRESS_FD, progress, 8, 4, 8)
      },
    },
    init,
  )
  realExit = guardExit(runner, send)
  runner.onStop = () => realExit(0)
  void runner.start()
})

/**
 * Node writes IPC messages asynchronously; a message still queued in this
 * process when it dies is lost. A blocking channel hands every message to
 * the kernel before send() returns. The channel handle is internal to Node,
 * so this is best effort: without it, lost results are run again.
 */
function makeChannelBlocking(): void {
  const key = Object.getOwnPropertySymbols(process).find((s) => s.description === 'kChannelHandle')
  const handle = key === undefined ? undefined : (process as unknown as Record<symbol, { setBlocking?: (on: boolean) => number }>)[key]
  try {
    handle?.setBlocking?.(true)
  } catch {
    // best effort, see above
  }
}

/**
 * Maps the progress file by its shared memory name and unlinks the name
 * (the mapping and the caller's descriptor keep it). null when there is no
 * name or no addon: the worker then writes through fd 4.
 */
function mapProgress(name: string | undefined): Int32Array | null {
  if (name === undefined || name === '' || nativeShm === null) return null
  try {
    const { buffer } = nativeShm.open(name, false, 0)
    try {
      nativeShm.unlink(name)
    } catch {
      // the caller unlinks it when this worker exits
    }
    return buffer.byteLength >= 12 ? new Int32Array(buffer, 0, 3) : null
  } catch {
    return null
  }
}

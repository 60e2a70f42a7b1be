/**
 * Entry point of a worker thread. Everything a worker does lives in
 * runtime.ts; this file only wires it to `parentPort` and turns the ways a
 * thread can die into messages the caller understands:
 *
 *  - an uncaught exception or unhandled rejection: report it ('fatal'),
 *    flush finished results, exit with code 1;
 *  - `process.exit()` called by a task: flush finished results first.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { TaskRunner } from './runtime.js'
import { PROTOCOL_VERSION, type ToWorker, type WorkerInit } from '../wire/messages.js'
import { serializeError, type SerializedError } from '../wire/remote_error.js'

const init = workerData as WorkerInit
const port = parentPort!

if (init.v !== PROTOCOL_VERSION) {
  port.postMessage({
    t: 'fatal',
    e: serializeError(new Error(`multiproc protocol mismatch: caller speaks v${init.v}, worker v${PROTOCOL_VERSION}`)),
  })
  process.exit(1)
}

const runner = new TaskRunner({ post: (message, transfer) => port.postMessage(message, transfer ?? []) }, init)

let dying = false
function die(error: unknown): void {
  if (dying) return
  dying = true
  try {
    runner.flush()
  } catch {
    // the results are lost; the caller runs those tasks again
  }
  port.postMessage({ t: 'fatal', e: serializeError(error) as SerializedError })
  realExit.call(process, 1)
}

const realExit = process.exit
process.exit = function exit(code?: number | string | null): never {
  try {
    runner.flush()
  } catch {
    // nothing more can be done on the way out
  }
  return realExit.call(process, code ?? undefined)
} as typeof process.exit

process.on('uncaughtException', die)
runner.onStop = () => {
  port.close()
}
port.on('message', (message: ToWorker) => runner.receive(message))
void runner.start()

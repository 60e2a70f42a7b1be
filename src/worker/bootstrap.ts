/**
 * Entry point of a worker thread. Everything a worker does lives in
 * runtime.ts; this file only wires it to `parentPort`. The ways a thread can
 * die are handled by exit_guard.ts, shared with the process bootstrap.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { TaskRunner } from './runtime.js'
import { guardExit } from './exit_guard.js'
import { PROTOCOL_VERSION, type ToWorker, type WorkerInit } from '../wire/messages.js'
import { serializeError } from '../wire/remote_error.js'

const init = workerData as WorkerInit
const port = parentPort!

if (init.v !== PROTOCOL_VERSION) {
  port.postMessage({
    t: 'fatal',
    e: serializeError(new Error(`multiproc protocol mismatch: caller speaks v${init.v}, worker v${PROTOCOL_VERSION}`)),
  })
  process.exit(1)
}

const runner = new TaskRunner(
  {
    post: (message, transfer) => port.postMessage(message, transfer ?? []),
    poll: () => receiveMessageOnPort(port)?.message,
  },
  init,
)
guardExit(runner, (message) => port.postMessage(message))
runner.onStop = () => {
  port.close()
}
port.on('message', (message: ToWorker) => runner.receive(message))
void runner.start()

/**
 * Entry point of a worker thread. Everything a worker does lives in
 * runtime.ts; this file only wires it to `parentPort`. The ways a thread can
 * die are handled by exit_guard.ts, shared with the process bootstrap.
 *
 * A spare thread (backends/thread/thread_start.ts) is started before the
 * caller knows which worker it will be: its workerData says so, and its
 * first message brings what a thread started for a worker has as its
 * workerData, and its environment. It imports its `preload` modules while
 * it waits.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { TaskRunner } from './runtime.js'
import { guardExit } from './exit_guard.js'
import { PROTOCOL_VERSION, type ToWorker, type WorkerInit } from '../wire/messages.js'
import { serializeError } from '../wire/remote_error.js'
import type { SpareInit, SpareThreadData } from '../backends/thread/thread_start.js'

const port = parentPort!

function run(init: WorkerInit): (message: ToWorker) => void {
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
  void runner.start()
  // Tasks sent while the thread started are already queued: taken now, they run without waiting
  // for the event loop to turn and deliver them one by one.
  for (let queued = receiveMessageOnPort(port); queued !== undefined; queued = receiveMessageOnPort(port)) runner.receive(queued.message as ToWorker)
  return (message) => runner.receive(message)
}

/** This thread's `process.env` (its own copy) made equal to `env`, as if the thread had started with it. */
function setEnvironment(env: Record<string, string | undefined>): void {
  for (const key of Object.keys(process.env)) if (env[key] === undefined) delete process.env[key]
  for (const [key, value] of Object.entries(env)) if (value !== undefined) process.env[key] = value
}

const data = workerData as WorkerInit | SpareThreadData
if ('spare' in data) {
  for (const url of data.preload) import(url).catch(() => {})
  // One listener throughout: the messages after the first reach the runner in order.
  let receive: ((message: ToWorker) => void) | null = null
  port.on('message', (message: ToWorker | SpareInit) => {
    if (receive !== null) receive(message as ToWorker)
    else if (message.t === 'init') {
      setEnvironment(message.env)
      receive = run(message.data as unknown as WorkerInit)
    }
  })
} else {
  port.on('message', run(data))
}

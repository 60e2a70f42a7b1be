// The Manager server's worker thread: starts the server and reports its
// address (or why it could not start) to the Manager, then waits for
// 'shutdown'.
import { parentPort, workerData } from 'node:worker_threads'
import { serializeError } from '../wire/remote_error.js'
import { ManagerServer, type ServerOptions } from './server.js'

const port = parentPort!
const server = new ManagerServer(workerData.manager as ServerOptions)
try {
  await server.start()
  port.postMessage({ type: 'ready', address: server.address })
} catch (error) {
  port.postMessage({ type: 'error', error: serializeError(error) })
  process.exit(1)
}
port.on('message', async (message: { type: string }) => {
  if (message.type !== 'shutdown') return
  await server.close()
  port.postMessage({ type: 'closed' })
  port.close()
})

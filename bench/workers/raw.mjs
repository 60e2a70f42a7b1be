// The floor: a bare worker_threads worker that answers each message at once.
import { parentPort } from 'node:worker_threads'

parentPort.on('message', (id) => parentPort.postMessage(id))

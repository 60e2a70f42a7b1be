// The floor of the 64 MiB case: a bare worker that scales the array it is sent and moves it back.
import { parentPort } from 'node:worker_threads'

function scale(a) {
  for (let i = 0; i < a.length; i++) a[i] = Math.sqrt(a[i] + 1) * 1.5
  return a
}

parentPort.on('message', (a) => parentPort.postMessage(scale(a), [a.buffer]))

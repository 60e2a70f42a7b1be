// The main-job task of the raw pool: [id, lines] in, [id, digests] out.
import { parentPort } from 'node:worker_threads'
import { digestLine } from './digest_line.mjs'

parentPort.on('message', ([id, lines]) => parentPort.postMessage([id, lines.map((line) => digestLine(line))]))

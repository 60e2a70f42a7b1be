// The first module of every worker thread. Plain JavaScript on purpose: it
// must load before any TypeScript loader exists in the thread. It registers
// the caller's loader (tsx) through its API, then starts the real bootstrap.
// See backends/exec_argv.ts for why this is needed on Node 20.
import { workerData } from 'node:worker_threads'

const { registerModules, bootstrap } = workerData.entry
for (const url of registerModules) {
  const api = await import(url)
  api.register()
}
await import(bootstrap)

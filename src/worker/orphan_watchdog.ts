/**
 * Makes a child-process worker die with its parent, even in the middle of a
 * task that never yields to the event loop.
 *
 * A worker notices a dead parent through its IPC channel ('disconnect'),
 * but only when its event loop runs. A task stuck in a synchronous loop
 * would outlive its parent until the loop ends. So a tiny thread (its own
 * event loop, about 9 MB of memory) checks the parent pid twice a second:
 * when the worker was re-parented (the parent died, even by SIGKILL), it
 * kills the worker.
 */
import { Worker } from 'node:worker_threads'

const CHECK_EVERY_MS = 500

const source = `
const { workerData } = require('node:worker_threads')
setInterval(() => {
  if (process.ppid !== workerData.parentPid) process.kill(process.pid, 'SIGKILL')
}, ${CHECK_EVERY_MS})
`

export function startOrphanWatchdog(parentPid: number): void {
  try {
    const watchdog = new Worker(source, {
      eval: true,
      workerData: { parentPid },
      // No loaders: the watchdog is plain JavaScript, and must stay small.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
      stdout: true,
      stderr: true,
    })
    watchdog.unref()
    watchdog.on('error', () => {
      // Without a watchdog the worker still exits on 'disconnect'.
    })
  } catch {
    // idem
  }
}

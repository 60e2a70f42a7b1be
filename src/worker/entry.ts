/**
 * `multiproc/worker`: the one worker entry point for bundled programs.
 *
 * A bundler copies only what the program imports, so the worker files that
 * multiproc starts by path (worker/bootstrap.js, worker/process_bootstrap.js)
 * are missing from a bundle. Adding this module as an entry point of the
 * bundle, named `multiproc-worker` next to the program's main file, puts them
 * back in one file; the thread and process backends look for it when their
 * usual files are not there (see backends/worker_entry.ts), or wherever
 * MULTIPROC_WORKER_ENTRY points.
 *
 *   esbuild main.ts tasks.ts multiproc-worker=multiproc/worker --bundle --splitting --platform=node --format=esm --outdir=out
 *
 * It starts the thread bootstrap in a worker thread started by multiproc,
 * the process bootstrap in a child process forked by multiproc, and does
 * nothing anywhere else, so importing it by mistake is harmless.
 */
import { isMainThread, workerData } from 'node:worker_threads'

interface ThreadEntry {
  entry?: { registerModules?: string[] }
}

if (!isMainThread) {
  const registerModules = (workerData as ThreadEntry | null)?.entry?.registerModules
  if (Array.isArray(registerModules)) {
    void (async () => {
      // The caller's loader (tsx) first, as worker/thread_entry.js does.
      for (const url of registerModules) ((await import(url)) as { register(): void }).register()
      await import('./bootstrap.js')
    })()
  }
} else if (typeof process.send === 'function' && process.argv[2] === String(process.ppid)) {
  void import('./process_bootstrap.js')
}

export {}

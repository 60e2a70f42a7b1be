// ESM app: import from 'multiproc', a process pool and a thread pool, and
// shared memory written by a child process. Prints one line the packaging
// test compares.
import { ProcessPoolExecutor, SharedMemory, ThreadPoolExecutor, task } from 'multiproc'

const square = task(new URL('./tasks.mjs', import.meta.url), 'square')
const fill = task(new URL('./tasks.mjs', import.meta.url), 'fill')

const processes = new ProcessPoolExecutor({ maxWorkers: 2 })
const threads = new ThreadPoolExecutor({ maxWorkers: 2 })
const shm = new SharedMemory({ create: true, size: 16 })
try {
  const viaProcesses = []
  for await (const y of processes.map(square, [1, 2, 3])) viaProcesses.push(y)
  const viaThread = await threads.submit(square, 7).result()
  await processes.submit(fill, shm, 42).result()
  const seen = shm.buf.every((b) => b === 42)
  console.log(`esm ${viaProcesses.join(',')} ${viaThread} shm=${SharedMemory.backend}/${SharedMemory.addon.source} written-by-child=${seen}`)
} finally {
  await processes.shutdown()
  await threads.shutdown()
  shm.close()
  shm.unlink()
}

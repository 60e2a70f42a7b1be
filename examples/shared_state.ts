// Shared state two ways: a SharedMemory block changed in place by child
// processes, and a Manager's dict, Value and Lock used from worker threads.
//
//   node --import tsx examples/shared_state.ts
import { Manager, ProcessPoolExecutor, SharedMemory, ThreadPoolExecutor } from '../src/index.js'
import { recordSum, scaleSlice } from './shared_state_tasks.js'

const n = 1_000_000
const shm = new SharedMemory({ create: true, size: n * 8 })
try {
  const xs = shm.view(Float64Array)
  for (let i = 0; i < n; i++) xs[i] = 1
  // Child processes need the native addon; without it, threads share the block instead.
  await using ex = SharedMemory.backend === 'posix' ? new ProcessPoolExecutor({ maxWorkers: 2 }) : new ThreadPoolExecutor({ maxWorkers: 2 })
  const sums = await Promise.all([0, 1, 2, 3].map((k) => ex.submit(scaleSlice, shm, (k * n) / 4, ((k + 1) * n) / 4, 2)))
  console.log(`slice sums ${sums.join(', ')}; xs[0] is now ${xs[0]} in the caller (${SharedMemory.backend})`)

  await using manager = new Manager()
  await manager.start()
  const [results, total, lock] = await Promise.all([manager.dict<string, number>(), manager.Value('d', 0), manager.Lock()])
  await using threads = new ThreadPoolExecutor({ maxWorkers: 2 })
  await Promise.all(sums.map((sum, k) => threads.submit(recordSum, results, total, lock, `slice ${k}`, sum)))
  console.log(await results.copy(), 'total', await total.get())
} finally {
  shm.close()
  shm.unlink()
}

// Run after the package's prebuilds/ were removed (nothing compiled either):
// threads still share memory, and handing a block to a child process fails
// with an error that names the cause and the fix. Prints one line.
import { ProcessPoolExecutor, SharedMemory, task } from 'multiproc'

const fill = task(new URL('./tasks.mjs', import.meta.url), 'fill')
const executor = new ProcessPoolExecutor({ maxWorkers: 1 })
const shm = new SharedMemory({ create: true, size: 8 })
try {
  await executor.submit(fill, shm, 1).result()
  console.log('no error')
} catch (error) {
  console.log(`${SharedMemory.addon.source} ${error.code} ${error.message}`)
} finally {
  await executor.shutdown()
  shm.close()
  shm.unlink()
}

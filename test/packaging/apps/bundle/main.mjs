// Bundled app: esbuild bundles this file, tasks.mjs and multiproc/worker
// (as multiproc-worker) with code splitting; the output runs where no
// node_modules exist. MULTIPROC_TEST_BACKEND picks the pool.
import { ProcessPoolExecutor, ThreadPoolExecutor, task } from 'multiproc'

const square = task(new URL('./tasks.mjs', import.meta.url), 'square')
const whoAmI = task(new URL('./tasks.mjs', import.meta.url), 'whoAmI')
const backend = process.env.MULTIPROC_TEST_BACKEND
const executor = backend === 'process' ? new ProcessPoolExecutor({ maxWorkers: 2 }) : new ThreadPoolExecutor({ maxWorkers: 2 })
try {
  const out = []
  for await (const y of executor.map(square, [1, 2, 3, 4])) out.push(y)
  console.log(`bundle ${backend} ${out.join(',')} ${await executor.submit(whoAmI)}`)
} finally {
  await executor.shutdown()
}

// CommonJS app: require('multiproc') and a task module in CommonJS.
const { pathToFileURL } = require('node:url')
const { join } = require('node:path')
const { ProcessPoolExecutor, ThreadPoolExecutor, SharedMemory, task } = require('multiproc')

async function main() {
  const square = task(pathToFileURL(join(__dirname, 'tasks.cjs')), 'square')
  const processes = new ProcessPoolExecutor({ maxWorkers: 1 })
  const threads = new ThreadPoolExecutor({ maxWorkers: 1 })
  try {
    const a = await processes.submit(square, 5).result()
    const b = await threads.submit(square, 6).result()
    console.log(`cjs ${a} ${b} shm=${SharedMemory.addon.source}`)
  } finally {
    await processes.shutdown()
    await threads.shutdown()
  }
}
main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})

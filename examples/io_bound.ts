// Many I/O-bound tasks per worker: pages fetched from a (local, slow) server
// by 2 workers, one request at a time per worker, then 32 at once per worker
// (`concurrentTasksPerWorker`). Results come back in input order both times.
//
//   node --import tsx examples/io_bound.ts [pages=200]
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { ThreadPoolExecutor } from '../src/index.js'
import { pageLength } from './io_tasks.js'

const pages = Number(process.argv[2] ?? 200)

// A server that takes 20 ms to answer, as a remote service would; page i is i characters long.
const server = createServer((request, response) => {
  const size = Number(new URL(request.url!, 'http://x').searchParams.get('size'))
  setTimeout(() => response.end('x'.repeat(size)), 20)
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const { port } = server.address() as AddressInfo
const urls = Array.from({ length: pages }, (_, i) => `http://127.0.0.1:${port}/page?size=${i}`)

for (const lanes of [1, 32]) {
  await using ex = new ThreadPoolExecutor({ maxWorkers: 2, concurrentTasksPerWorker: lanes })
  await ex.submit(pageLength, urls[0]!) // workers up and the task module loaded before the clock starts
  const start = performance.now()
  const lengths: number[] = []
  for await (const length of ex.map(pageLength, urls)) lengths.push(length)
  const ms = performance.now() - start
  const inOrder = lengths.every((length, i) => length === i)
  console.log(`concurrentTasksPerWorker ${lanes}: ${pages} pages in ${ms.toFixed(0)} ms, ${inOrder ? 'in input order' : 'OUT OF ORDER'}`)
}
server.close()

// A fresh `multiproc status` transcript: two workers, a burst of 600 tasks of 40 ms, three that throw, one retried.
import { spawnSync } from 'node:child_process'
import { NatsExecutor, task } from './src/index.js'
import { TestServer, TestWorker } from './test/nats/cluster.js'
import * as T from './test/fixtures/tasks.js'
const TASKS = new URL('./test/fixtures/tasks.ts', import.meta.url).href
const sleep = task<typeof T.sleep>(TASKS, 'sleep')
const failOn = task<typeof T.failOn>(TASKS, 'failOn')
const server = await TestServer.start()
const workers = [0, 1].map(() => new TestWorker(server.url, ['--concurrency', '2']))
await Promise.all(workers.map((w) => w.ready))
const ex = new NatsExecutor({ servers: server.url })
try {
  await Promise.all(Array.from({ length: 4 }, () => ex.submit(sleep, 1)))
  const all = Array.from({ length: 600 }, () => ex.submit(sleep, 40))
  for (let i = 0; i < 3; i++) all.push(ex.submitWith({ retries: i === 0 ? 1 : 0, retryOn: [RangeError], retryBackoff: { initial: 10 } }, failOn, 3, 3).catch(() => 0))
  await new Promise((r) => setTimeout(r, 3500))
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'status', '--nats', server.url], { encoding: 'utf8' })
  process.stdout.write(`$ multiproc status --nats ${server.url}\n${r.stdout}${r.stderr}`)
  await Promise.all(all)
} finally {
  await ex.shutdown()
  for (const w of workers) await w.kill()
  await server.stop()
}

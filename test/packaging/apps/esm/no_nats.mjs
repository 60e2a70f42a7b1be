// The NATS clients are optional peers and not installed here: the cluster
// backend fails with an error that says what to install. Prints one line.
import { NatsExecutor, task } from 'multiproc'

const executor = new NatsExecutor({ servers: 'nats://127.0.0.1:9' })
try {
  await executor.submit(task(new URL('./tasks.mjs', import.meta.url), 'square'), 3).result({ timeout: 10_000 })
  console.log('no error')
} catch (error) {
  console.log(`${error.code} ${error.message}`)
} finally {
  await executor.shutdown({ cancelFutures: true }).catch(() => {})
}

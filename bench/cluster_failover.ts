/**
 * The cluster case: how long the task of a worker process killed with
 * SIGKILL waits before another worker has run it, with the default settings
 * (ack wait 2 s, heartbeats each quarter of it).
 *
 * A private nats-server, two supervised `multiproc worker` processes with 2
 * threads. Each repetition submits a task that holds its thread until its
 * worker process is killed and returns at once where it runs again
 * (failover_tasks.ts), kills the worker process running it 250 ms after it
 * started, and times from the kill to the result at the caller. The
 * supervisor starts the killed process again before the next repetition,
 * so there are always two workers.
 */
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NatsExecutor } from '../src/index.js'
import { TestServer, TestWorker, until } from '../test/nats/cluster.js'
import { holdUntilKilled } from './failover_tasks.js'
import type { Measurement } from './measure.js'

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** `repeats` kills; the median ms from kill to result, with every sample, min and max. */
export async function clusterFailover(repeats: number): Promise<Measurement> {
  const server = await TestServer.start()
  if (server.external) throw new Error('nats-server is not installed (the failover case starts its own: apt install nats-server)')
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-bench-failover-'))
  const workers = [0, 1].map(() => new TestWorker(server.url, ['--concurrency', '2', '--supervise'], {}, [fileURLToPath(new URL('./', import.meta.url))]))
  try {
    await Promise.all(workers.map((w) => w.ready))
    await using ex = new NatsExecutor({ servers: server.url })
    const started = (): number => workers.reduce((n, w) => n + w.workerPids.length, 0)
    const samples: number[] = []
    for (let i = 0; i < repeats; i++) {
      const file = join(dir, `round-${i}`)
      const before = started()
      const f = ex.submit(holdUntilKilled, file)
      await until(() => existsSync(file) && readFileSync(file, 'utf8').includes('\n'), 30_000, 'the task to start', 5)
      const victim = Number(readFileSync(file, 'utf8'))
      await new Promise((r) => setTimeout(r, 250))
      const killedAt = performance.now()
      process.kill(victim, 'SIGKILL')
      const pid = await f
      samples.push(performance.now() - killedAt)
      if (pid === victim) throw new Error('the killed worker process returned the result')
      // The supervisor has started the killed process again: two workers for the next round.
      await until(() => started() === before + 1, 60_000, 'the killed worker process to be started again', 5)
    }
    return { value: median(samples), unit: 'ms', extra: { min: Math.min(...samples), max: Math.max(...samples), samples } }
  } finally {
    await Promise.all(workers.map((w) => w.kill()))
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

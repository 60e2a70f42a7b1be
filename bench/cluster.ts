/**
 * The cluster cases of the suite: `NatsExecutor.map` (automatic chunks) and
 * `Pool.map` on the nats context over 100k tiny items, the round trip of
 * one task, and the round trip of 100 MiB each way (through the Object
 * Store). Each measurement starts a private nats-server and one
 * `multiproc worker` with 2 threads (2 task slots, as the peers in
 * docs/cluster.md were given), warms them, then times.
 */
import { fileURLToPath } from 'node:url'
import { NatsExecutor, Pool, getContext } from '../src/index.js'
import { TestServer, TestWorker } from '../test/nats/cluster.js'
import type { Measurement } from './measure.js'
import { double, echo, noop } from './tasks.js'

export const CLUSTER_LIBS = ['executor.map', 'Pool.map', 'round trip', '100 MiB'] as const
export type ClusterLib = (typeof CLUSTER_LIBS)[number]

const MiB = 1024 * 1024

/** One measurement of `lib`; `items` tiny items for the maps, `samples` round trips, `mib` MiB each way. */
export async function cluster(lib: ClusterLib, size: { items: number; samples: number; mib: number }): Promise<Measurement> {
  const server = await TestServer.start()
  if (server.external) throw new Error('nats-server is not installed (the cluster cases start their own: apt install nats-server)')
  const worker = new TestWorker(server.url, ['--concurrency', '2'], {}, [fileURLToPath(new URL('./', import.meta.url))])
  try {
    await worker.ready
    if (lib === 'Pool.map') {
      await using pool = new Pool({ processes: 2, context: getContext('nats', { servers: server.url }) })
      const items = Array.from({ length: size.items }, (_, i) => i)
      await pool.map(double, items.slice(0, 1000))
      const t = performance.now()
      const out = await pool.map(double, items)
      if (out.length !== items.length) throw new Error(`Pool.map gave ${out.length} results for ${items.length}`)
      return { value: items.length / ((performance.now() - t) / 1000), unit: 'items/s' }
    }
    await using ex = new NatsExecutor({ servers: server.url })
    await Promise.all(Array.from({ length: 64 }, () => ex.submit(noop)))
    if (lib === 'executor.map') {
      const items = Array.from({ length: size.items }, (_, i) => i)
      // Warm-up: the worker's threads compile the chunk path.
      for await (const _ of ex.map(noop, items.slice(0, 5000))) void _
      const t = performance.now()
      let n = 0
      for await (const _ of ex.map(noop, items)) n++
      if (n !== items.length) throw new Error(`map gave ${n} results for ${items.length}`)
      return { value: n / ((performance.now() - t) / 1000), unit: 'items/s' }
    }
    if (lib === 'round trip') {
      // The default (a lone task goes directly to an idle worker) and, interleaved, every task through the stream.
      await using viaStream = new NatsExecutor({ servers: server.url, direct: false })
      for (let i = 0; i < 64; i++) await viaStream.submit(noop)
      const rtt: number[] = []
      const streamRtt: number[] = []
      for (let i = 0; i < size.samples; i++) {
        for (const [into, ex2] of [[rtt, ex], [streamRtt, viaStream]] as const) {
          const t = performance.now()
          await ex2.submit(noop)
          into.push(performance.now() - t)
        }
      }
      rtt.sort((a, b) => a - b)
      streamRtt.sort((a, b) => a - b)
      return { value: rtt[rtt.length >> 1]!, unit: 'ms', extra: { p10: rtt[Math.floor(rtt.length * 0.1)], p90: rtt[Math.floor(rtt.length * 0.9)], stream: streamRtt[streamRtt.length >> 1] } }
    }
    const payload = new Uint8Array(size.mib * MiB)
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 255
    await ex.submit(echo, new Uint8Array(2 * MiB)) // the bucket exists, the store path is warm
    const t = performance.now()
    const back = await ex.submit(echo, payload)
    const ms = performance.now() - t
    if (back.length !== payload.length || back[4096] !== payload[4096]) throw new Error('the payload came back altered')
    return { value: ms, unit: 'ms', extra: { mibPerSec: (2 * size.mib) / (ms / 1000) } }
  } finally {
    await worker.kill()
    await server.stop()
  }
}

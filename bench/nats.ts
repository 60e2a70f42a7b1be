// Cluster backend on NATS JetStream, two cases:
//
//   node --import tsx bench/nats.ts [tasks=20000]      tiny tasks
//   node --import tsx bench/nats.ts large [runs=5]     the 100 MB round trip
//
// Tiny tasks: round trip and throughput, next to BullMQ on Redis
// (127.0.0.1:6379) measured in the same run, and scaling from 1 to 2 worker
// processes. Throughput is measured three ways: a burst of submit() calls
// (the executor packs bursts into messages), map() with its automatic
// chunking (the batched path), and BullMQ's addBulk with a worker of
// concurrency 50.
//
// The 100 MB round trip: one task whose argument and result are 100 MiB
// each (a Uint8Array it returns as it got it), so both travel through the
// JetStream Object Store; min, median and max of `runs`, and the rate as
// payload bytes moved (200 MiB) per second. The store's own put and get of
// 100 MiB are timed beside it, to show where the time goes.
//
// Both start a private nats-server -js on a free port (or use 127.0.0.1:4222
// when the binary is missing) and `multiproc worker` processes with 2 threads.
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { NatsExecutor } from '../src/index.js'
import { ObjectPayloads } from '../src/backends/nats/object_payload.js'
import { TestServer, TestWorker } from '../test/nats/cluster.js'
import { echo, noop } from './tasks.js'

const LARGE = process.argv[2] === 'large'
const TASKS = LARGE ? 0 : Number(process.argv[2] ?? 20_000)
const RUNS = LARGE ? Number(process.argv[3] ?? 5) : 0
const RTT_SAMPLES = 500
const MiB = 1024 * 1024
const LARGE_BYTES = 100 * MiB

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function natsRound(url: string, label: string): Promise<Record<string, number>> {
  await using ex = new NatsExecutor({ servers: url, maxWorkers: 256 })
  await Promise.all(Array.from({ length: 64 }, () => ex.submit(noop)))
  const rtt: number[] = []
  for (let i = 0; i < RTT_SAMPLES; i++) {
    const t = performance.now()
    await ex.submit(noop)
    rtt.push(performance.now() - t)
  }
  let t = performance.now()
  const futures = new Array(TASKS)
  for (let i = 0; i < TASKS; i++) futures[i] = ex.submit(noop)
  await Promise.all(futures)
  const submitRate = TASKS / ((performance.now() - t) / 1000)
  const items = Array.from({ length: TASKS * 5 }, (_, i) => i)
  t = performance.now()
  let n = 0
  for await (const _ of ex.map(noop, items)) n++
  const mapRate = n / ((performance.now() - t) / 1000)
  const out = { rttMedianMs: median(rtt), submitPerSec: submitRate, mapItemsPerSec: mapRate }
  console.log(`nats ${label}: rtt median ${out.rttMedianMs.toFixed(3)} ms, submit burst ${Math.round(submitRate)} tasks/s, map ${Math.round(mapRate)} items/s`)
  return out
}

async function bullmq(): Promise<Record<string, number> | null> {
  let mod: typeof import('bullmq')
  try {
    mod = await import('bullmq')
  } catch {
    console.log('bullmq: not installed, skipped')
    return null
  }
  const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null }
  const name = `bench-${hostname()}-${process.pid}`
  const queue = new mod.Queue(name, { connection })
  const events = new mod.QueueEvents(name, { connection })
  const worker = new mod.Worker(name, async () => null, { connection, concurrency: 50 })
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()])
    const rtt: number[] = []
    for (let i = 0; i < Math.min(RTT_SAMPLES, 200); i++) {
      const t = performance.now()
      const job = await queue.add('noop', {})
      await job.waitUntilFinished(events)
      rtt.push(performance.now() - t)
    }
    const n = Math.min(TASKS, 10_000)
    let done = 0
    const finished = new Promise<void>((resolve) => worker.on('completed', () => ++done === n && resolve()))
    const t = performance.now()
    for (let i = 0; i < n; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true } })))
    }
    await finished
    const rate = n / ((performance.now() - t) / 1000)
    const out = { rttMedianMs: median(rtt), bulkPerSec: rate }
    console.log(`bullmq (redis): rtt median ${out.rttMedianMs.toFixed(3)} ms, addBulk ${Math.round(rate)} jobs/s (worker concurrency 50)`)
    return out
  } catch (error) {
    console.log(`bullmq: ${(error as Error).message}, skipped`)
    return null
  } finally {
    await worker.close().catch(() => {})
    await events.close().catch(() => {})
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close().catch(() => {})
  }
}

/** min, median, max of `xs`. */
function spread(xs: number[]): { min: number; median: number; max: number } {
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) }
}

async function largeRoundTrip(url: string): Promise<Record<string, unknown>> {
  const payload = new Uint8Array(LARGE_BYTES)
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 255
  const round: number[] = []
  {
    await using ex = new NatsExecutor({ servers: url })
    await ex.submit(noop)
    for (let run = 0; run < RUNS; run++) {
      const t = performance.now()
      const back = await ex.submit(echo, payload)
      round.push(performance.now() - t)
      if (back.length !== payload.length || back[4096] !== payload[4096]) throw new Error('the payload came back altered')
    }
  }
  // The store alone, on a connection of its own: what one direction costs at least.
  const { connect } = await import('@nats-io/transport-node')
  const nc = await connect({ servers: url })
  const put: number[] = []
  const get: number[] = []
  try {
    const payloads = new ObjectPayloads(() => nc, 'multiproc_payloads')
    for (let run = 0; run < RUNS; run++) {
      let t = performance.now()
      await payloads.put('bench', payload, 60_000)
      put.push(performance.now() - t)
      t = performance.now()
      await payloads.get('bench')
      get.push(performance.now() - t)
      payloads.delete('bench')
      await payloads.settled()
    }
  } finally {
    await nc.close()
  }
  const r = spread(round)
  const rate = (ms: number): number => (2 * LARGE_BYTES) / MiB / (ms / 1000)
  const out = { runs: RUNS, roundTripMs: r, mibPerSec: { min: rate(r.max), median: rate(r.median), max: rate(r.min) }, storePutMs: spread(put), storeGetMs: spread(get) }
  console.log(
    `nats 100 MiB round trip (100 MiB argument, 100 MiB result): min ${r.min.toFixed(0)} ms, median ${r.median.toFixed(0)} ms, max ${r.max.toFixed(0)} ms; ` +
      `${out.mibPerSec.median.toFixed(1)} MiB/s moved (median; ${out.mibPerSec.min.toFixed(1)}–${out.mibPerSec.max.toFixed(1)}); ` +
      `store alone: put ${out.storePutMs.median.toFixed(0)} ms, get ${out.storeGetMs.median.toFixed(0)} ms (medians)`,
  )
  return out
}

const server = await TestServer.start()
const workers: TestWorker[] = []
try {
  const start = async (): Promise<void> => {
    const w = new TestWorker(server.url, ['--concurrency', '2'], {}, [fileURLToPath(new URL('./', import.meta.url))])
    workers.push(w)
    await w.ready
  }
  await start()
  if (LARGE) {
    console.log(JSON.stringify({ large: await largeRoundTrip(server.url) }, null, 2))
  } else {
    const one = await natsRound(server.url, '1 worker process')
    await start()
    const two = await natsRound(server.url, '2 worker processes')
    const bull = await bullmq()
    console.log(
      JSON.stringify(
        {
          nats1: one,
          nats2: two,
          bullmq: bull,
          scalingSubmit: two.submitPerSec / one.submitPerSec,
          scalingMap: two.mapItemsPerSec / one.mapItemsPerSec,
          vsBullmqSubmit: bull ? two.submitPerSec / bull.bulkPerSec : null,
          vsBullmqMap: bull ? two.mapItemsPerSec / bull.bulkPerSec : null,
        },
        null,
        2,
      ),
    )
  }
} finally {
  await Promise.all(workers.map((w) => w.kill()))
  await server.stop()
}

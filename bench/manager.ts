// Manager proxy calls: sequential round trips from the main thread (one call
// waits for the previous), next to Python's multiprocessing Manager measured
// in the same run (bench/python_manager.py), and many calls in flight at
// once (which Python's proxies cannot do from one thread).
//
//   node --import tsx bench/manager.ts [calls=5000]
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Manager } from '../src/index.js'

const N = Number(process.argv[2] ?? 5000)

async function perCallUs(fn: () => Promise<unknown>, n: number): Promise<number> {
  for (let i = 0; i < 200; i++) await fn()
  const start = performance.now()
  for (let i = 0; i < n; i++) await fn()
  return ((performance.now() - start) / n) * 1000
}

const results: Record<string, number> = {}
for (const [label, address] of [
  ['unix socket', undefined],
  ['tcp', { host: '127.0.0.1', port: 0 }],
] as const) {
  await using manager = new Manager(address ? { address } : {})
  await manager.start()
  const v = await manager.Value('i', 0)
  const d = await manager.dict()
  const q = await manager.Queue()
  results[`${label}: Value.get`] = await perCallUs(() => v.get(), N)
  results[`${label}: dict set`] = await perCallUs(() => d.set('k', 1), N)
  results[`${label}: Queue put+get`] = await perCallUs(async () => (await q.put(1), await q.get()), N >> 1)
  const start = performance.now()
  await Promise.all(Array.from({ length: N }, () => v.get()))
  results[`${label}: Value.get, ${N} in flight, us/call`] = ((performance.now() - start) / N) * 1000
}

let python: Record<string, number> | null = null
try {
  const out = execFileSync('python3', [fileURLToPath(new URL('./python_manager.py', import.meta.url)), String(N)], { encoding: 'utf8' })
  python = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>
} catch (error) {
  console.log(`python3 run failed: ${(error as Error).message}`)
}

console.log(`Manager proxy round trips, ${N} sequential calls, microseconds per call`)
for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(44)} ${v.toFixed(1)}`)
if (python !== null) {
  console.log('Python multiprocessing.Manager (same machine, same run):')
  for (const [k, v] of Object.entries(python)) {
    const ours = results[`unix socket: ${k}`]
    console.log(`  ${k.padEnd(44)} ${v.toFixed(1)}   python / multiproc (unix socket) = ${ours ? (v / ours).toFixed(2) : '?'}`)
  }
}

// The primes below a limit, in two phases: the same task and result queues
// serve a first team of workers (the lower half) and then a second team (the
// upper half), each stopped by (-1, -1) sentinels.
//
//   node --import tsx examples/primes_two_phases.ts [--context thread|process] [--limit 100000]
import { Queue, getContext, type StartMethod } from '../src/index.js'
import { primesWorker } from './process_tasks.js'

const args = process.argv.slice(2)
const option = (name: string, fallback: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback)
const ctx = getContext(option('--context', 'thread') as StartMethod)
const limit = Number(option('--limit', '100000'))
const workers = 3
const step = 1000

const tQueue = new Queue<[number, number]>()
const rQueue = new Queue<number[]>()
const all: number[] = []

for (const [phase, lo, hi] of [
  [1, 0, Math.floor(limit / 2)],
  [2, Math.floor(limit / 2), limit],
] as const) {
  const team = Array.from({ length: workers }, () => new ctx.Process({ target: primesWorker, args: [tQueue, rQueue] }))
  for (const p of team) p.start()
  let tasks = 0
  for (let a = lo; a < hi; a += step, tasks++) await tQueue.put([a, Math.min(hi, a + step)])
  for (let i = 0; i < workers; i++) await tQueue.put([-1, -1])
  let found = 0
  for (let i = 0; i < tasks; i++) {
    const primes = await rQueue.get()
    found += primes.length
    all.push(...primes)
  }
  for (const p of team) await p.join()
  console.log(`phase ${phase}: ${found} primes in [${lo}, ${hi})`)
}

all.sort((a, b) => a - b)
console.log(`${all.length} primes below ${limit}; the largest is ${all.at(-1)}`)

// Master-worker pi: the master puts (start, end) ranges on a task queue,
// workers put partial sums on a result queue, and a (-1, -1) sentinel per
// worker tells them to stop.
//
//   node --import tsx examples/pi_queues.ts [--context thread|process] [--workers 4] [--steps 10000000]
import { Queue, getContext, type StartMethod } from '../src/index.js'
import { piWorker } from './process_tasks.js'

const args = process.argv.slice(2)
const option = (name: string, fallback: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback)
const ctx = getContext(option('--context', 'thread') as StartMethod)
const workers = Number(option('--workers', '4'))
const steps = Number(option('--steps', '10000000'))
const chunks = 100

const tQueue = new Queue<[number, number]>()
const rQueue = new Queue<number>()
const start = performance.now()
const procs = Array.from({ length: workers }, () => new ctx.Process({ target: piWorker, args: [tQueue, rQueue, steps] }))
for (const p of procs) p.start()

const size = Math.ceil(steps / chunks)
for (let i = 0; i < chunks; i++) await tQueue.put([i * size, Math.min(steps, (i + 1) * size)])
for (let i = 0; i < workers; i++) await tQueue.put([-1, -1])

let pi = 0
for (let i = 0; i < chunks; i++) pi += await rQueue.get()
for (const p of procs) await p.join()

console.log(`pi ≈ ${pi.toFixed(12)} (error ${Math.abs(pi - Math.PI).toExponential(2)})`)
console.log(`${workers} workers on ${ctx.name}, ${steps} steps in ${chunks} tasks, ${(performance.now() - start).toFixed(0)} ms`)

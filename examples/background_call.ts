// Seed 002's pattern: start a long call in the background, do other work,
// pick up its result later.
//
//   node --import tsx examples/background_call.ts
//
// submit() returns a Future at once; the call runs in a worker thread while
// this thread goes on. `await future` (or `future.result({ timeout })`) picks
// up the result when it is needed; a done callback can react as soon as it is.
import { ThreadPoolExecutor } from '../src/index.js'
import { countPrimes } from './futures_tasks.js'

const LIMIT = Number(process.env.PRIMES_BELOW ?? 3_000_000)

await using executor = new ThreadPoolExecutor({ maxWorkers: 1 })
const future = executor.submit(countPrimes, LIMIT)
console.log(`submitted countPrimes(${LIMIT}); the call runs in the background`)
future.addDoneCallback(() => console.log('done callback: the background call finished'))

// Other work meanwhile, on this thread: here, a small computation per step.
let steps = 0
let checksum = 0
do {
  for (let i = 0; i < 100_000; i++) checksum = (checksum + i * steps) % 1_000_003
  steps++
  await new Promise((resolve) => setTimeout(resolve, 20))
} while (!future.done() && steps < 3000)
console.log(`main thread: ${steps} steps of other work while the call ran (checksum ${checksum})`)

const primes = await future.result({ timeout: 120_000 })
console.log(`result picked up: ${primes} primes below ${LIMIT}`)

// Four workers add 1 to a shared counter 10,000 times each. Under a Lock the
// total is exact; without one, updates get lost (when the workers really
// run at the same time).
//
//   node --import tsx examples/lock_counter.ts [--context thread|process] [--unlocked]
import { Lock, getContext, type StartMethod } from '../src/index.js'
import { addOne, addOneUnlocked } from './process_tasks.js'

const args = process.argv.slice(2)
const ctx = getContext((args.includes('--context') ? args[args.indexOf('--context') + 1] : 'thread') as StartMethod)
const n = 10_000

const lock = new Lock()
const counter = new ctx.Value('i32', 0, { lock: false })
const workers = [0, 1, 2, 3].map(() => new ctx.Process({ target: addOne, args: [lock, counter, n] }))
for (const p of workers) p.start()
for (const p of workers) await p.join()
console.log(`with a lock: ${counter.value} (expected ${4 * n})`)

if (args.includes('--unlocked')) {
  const loose = new ctx.Value('i32', 0, { lock: false })
  const racers = [0, 1, 2, 3].map(() => new ctx.Process({ target: addOneUnlocked, args: [loose, n] }))
  for (const p of racers) p.start()
  for (const p of racers) await p.join()
  console.log(`without a lock: ${loose.value} (updates may be lost)`)
}

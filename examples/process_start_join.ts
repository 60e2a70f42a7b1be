// Start several Processes, then join them all (Python's Process start/join).
//
//   node --import tsx examples/process_start_join.ts [--context thread|process]
import { getContext, type StartMethod } from '../src/index.js'
import { greet } from './process_tasks.js'

const args = process.argv.slice(2)
const ctx = getContext((args.includes('--context') ? args[args.indexOf('--context') + 1] : 'thread') as StartMethod)

const workers = [0, 1, 2, 3].map((id) => new ctx.Process({ target: greet, args: [id, 50 * (4 - id)], name: `Worker-${id}` }))
for (const p of workers) p.start()
for (const p of workers) await p.join()
console.log(`all joined on ${ctx.name}: exit codes ${workers.map((p) => p.exitCode).join(', ')}`)

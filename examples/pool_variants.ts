// Seed 004: Pool's apply, applyAsync, map, mapAsync, imap, imapUnordered and
// starmap, and the order their results come in.
//
//   node --import tsx examples/pool_variants.ts
import { Pool } from '../src/index.js'
import { add, slowSquarePair, square } from './pool_tasks.js'

await using pool = new Pool({ processes: 3 })

// apply: one call, wait for it.
console.log('apply(square, [7])                ', await pool.apply(square, [7]))

// applyAsync: one call, an AsyncResult at once; the callback runs before get() returns.
const async = pool.applyAsync(square, [8], { callback: (y) => console.log('applyAsync callback got           ', y) })
console.log('applyAsync(square, [8]).get()     ', await async.get({ timeout: 60_000 }))

// map: all results at once, in input order.
console.log('map(square, 0..9)                 ', (await pool.map(square, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).join(' '))

// mapAsync: the same as an AsyncResult.
const mapped = pool.mapAsync(square, [10, 11, 12])
console.log('mapAsync(square, [10, 11, 12])    ', (await mapped.get({ timeout: 60_000 })).join(' '))

// starmap: each item is an argument list.
console.log('starmap(add, [[1,2],[3,4],[5,6]]) ', (await pool.starmap(add, [[1, 2], [3, 4], [5, 6]])).join(' '))

// Items 1..6 where the first ones are the slowest: they finish last.
const delays = [300, 250, 200, 150, 100, 50]
const pairs = delays.map((ms, i) => [i + 1, ms] as [number, number])

// imap: results as an async iterator, in input order, whatever the finishing order.
const ordered: number[] = []
for await (const y of pool.imap(slowSquarePair, pairs, { chunksize: 1 })) ordered.push(y)
console.log('imap (input order)                ', ordered.join(' '))

// imapUnordered: results as they finish.
const unordered: number[] = []
for await (const y of pool.imapUnordered(slowSquarePair, pairs, { chunksize: 1 })) unordered.push(y)
console.log('imapUnordered (finishing order)   ', unordered.join(' '))
console.log('same results, other order         ', [...unordered].sort((a, b) => a - b).join(' ') === ordered.join(' '))


// Soak: a bounded Queue among 4 producer and 4 consumer workers. Every item
// is a distinct integer; the consumers return what they got, and the caller
// counts each id: never seen is lost, seen twice is duplicated, and the sum
// of everything received is checked against the sum of what was put.
//
// This module is also the task module of its workers (producer, consumer).
import { ProcessPoolExecutor, Queue, ThreadPoolExecutor, wait, type Future, type PoolExecutor } from '../../src/index.js'
import type { SoakRow, SoakScenario } from '../scenario.js'

const PRODUCERS = 4
const CONSUMERS = 4
/** Items for the full soak (scale 1). */
const ITEMS = 10_000
const MAXSIZE = 64
/** The consumers' stop sign (one per consumer, put after every producer finished). */
const STOP = -1

/** Puts the ids `from, from + step, ...` below `end`. */
export async function producer(q: Queue<number>, from: number, step: number, end: number): Promise<number> {
  let count = 0
  for (let id = from; id < end; id += step) {
    await q.put(id)
    count++
  }
  return count
}

/** Gets ids until STOP; returns them in the order got. */
export async function consumer(q: Queue<number>): Promise<number[]> {
  const got: number[] = []
  for (;;) {
    const id = await q.get()
    if (id === STOP) return got
    got.push(id)
  }
}

async function runQueue(make: () => PoolExecutor, scale: number, deadline: number): Promise<SoakRow> {
  const items = Math.max(PRODUCERS * 10, Math.round(ITEMS * scale))
  const executor = make()
  const q = new Queue<number>({ maxsize: MAXSIZE })
  const row: SoakRow = { tried: items, lost: 0, duplicated: 0, hung: 0, wrong: 0 }
  let stuck = false
  try {
    const consumers: Future<number[]>[] = []
    for (let c = 0; c < CONSUMERS; c++) consumers.push(executor.submit(consumer, q))
    const producers: Future<number>[] = []
    for (let p = 0; p < PRODUCERS; p++) producers.push(executor.submit(producer, q, p, PRODUCERS, items))
    const left = (): number => Math.max(0, deadline - Date.now())
    const produced = await wait(producers, { timeout: left() })
    if (produced.notDone.size === 0) {
      for (let c = 0; c < CONSUMERS; c++) await q.put(STOP, { timeout: left() }).catch(() => {})
    }
    const consumed = await wait(consumers, { timeout: left() })
    const seen = new Uint8Array(items)
    let sum = 0
    for (const f of consumed.done) {
      let ids: number[]
      try {
        ids = await f
      } catch {
        row.wrong++
        continue
      }
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= items) {
          row.wrong++
          continue
        }
        if (seen[id]! > 0) row.duplicated++
        seen[id] = Math.min(255, seen[id]! + 1)
        sum += id
      }
    }
    // A producer that failed put fewer items: they show up as lost; its error counts as wrong.
    for (const f of produced.done) if ((await Promise.allSettled([f]))[0]!.status === 'rejected') row.wrong++
    const unfinished = produced.notDone.size + consumed.notDone.size
    let missing = 0
    for (let id = 0; id < items; id++) if (seen[id] === 0) missing++
    if (unfinished > 0) {
      stuck = true
      row.hung = missing
      row.pending = `${produced.notDone.size} producer(s) and ${consumed.notDone.size} consumer(s) unfinished; ${q.qsize()} item(s) in the queue`
    } else {
      row.lost = missing
      const expected = (items * (items - 1)) / 2
      if (missing === 0 && row.duplicated === 0 && sum !== expected) row.wrong++
    }
  } finally {
    q.close()
    await executor.shutdown({ wait: !stuck, cancelFutures: true })
  }
  return row
}

export const scenarios: SoakScenario[] = [
  {
    name: 'bounded Queue 4 producers / 4 consumers',
    backend: 'process',
    run: ({ scale, deadline }) => runQueue(() => new ProcessPoolExecutor({ maxWorkers: PRODUCERS + CONSUMERS }), scale, deadline),
  },
  {
    name: 'bounded Queue 4 producers / 4 consumers',
    backend: 'thread',
    run: ({ scale, deadline }) => runQueue(() => new ThreadPoolExecutor({ maxWorkers: PRODUCERS + CONSUMERS }), scale, deadline),
  },
]

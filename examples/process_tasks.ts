// The functions the Process examples run in their workers. They live in a
// module of their own: a worker imports its target by module and name.
import { currentProcess, type Lock, type Queue, type Value } from '../src/index.js'

/** process_start_join.ts: say hello, work a little, say goodbye. */
export async function greet(id: number, ms: number): Promise<void> {
  console.log(`worker ${id} (${currentProcess().name}) started`)
  await new Promise((r) => setTimeout(r, ms))
  console.log(`worker ${id} done`)
}

/** pi_queues.ts: integrate 4/(1+x²) over the (start, end) step ranges from tQueue until (-1, -1). */
export async function piWorker(tQueue: Queue<[number, number]>, rQueue: Queue<number>, steps: number): Promise<void> {
  const h = 1 / steps
  for (;;) {
    const [start, end] = await tQueue.get()
    if (start === -1 && end === -1) break
    let sum = 0
    for (let i = start; i < end; i++) {
      const x = h * (i + 0.5)
      sum += 4 / (1 + x * x)
    }
    await rQueue.put(sum * h)
  }
}

/** primes_two_phases.ts: the primes of each [lo, hi) range from tQueue until (-1, -1). */
export async function primesWorker(tQueue: Queue<[number, number]>, rQueue: Queue<number[]>): Promise<void> {
  for (;;) {
    const [lo, hi] = await tQueue.get()
    if (lo === -1 && hi === -1) break
    const primes: number[] = []
    for (let n = Math.max(2, lo); n < hi; n++) {
      let prime = true
      for (let d = 2; d * d <= n && prime; d++) if (n % d === 0) prime = false
      if (prime) primes.push(n)
    }
    await rQueue.put(primes)
  }
}

/** lock_counter.ts: n increments of a shared counter, each under the lock. */
export async function addOne(lock: Lock, counter: Value<'i32'>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await using _ = await lock.hold()
    counter.value += 1
  }
}

/** lock_counter.ts: the same without the lock, to show lost updates. */
export async function addOneUnlocked(counter: Value<'i32'>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    counter.value += 1
    if (i % 100 === 0) await new Promise((r) => setImmediate(r))
  }
}

// Task module of cpu_fallback.ts and background_call.ts.
import { threadId } from 'node:worker_threads'

/** The sum of i² for i in [from, to): one part of a bigger sum. */
export function sumOfSquares(from: number, to: number): number {
  let sum = 0
  for (let i = from; i < to; i++) sum += i * i
  return sum
}

/** Where the call ran: the main thread, or a worker thread. */
export function whereAmI(): string {
  return threadId === 0 ? `main thread of process ${process.pid}` : `worker thread ${threadId}`
}

/** A long call: the number of primes below `limit`, by trial division. */
export function countPrimes(limit: number): number {
  let count = 0
  for (let n = 2; n < limit; n++) {
    let prime = true
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false
        break
      }
    }
    if (prime) count++
  }
  return count
}

/**
 * The floor: the least a worker_threads pool can do. One message per task
 * each way, an id per task, a promise per task, tasks spread round-robin.
 * No queue, no batching, no error handling: a library cannot go faster
 * without changing the protocol (batching), so this is the yardstick.
 */
import { Worker } from 'node:worker_threads'

export class RawPool {
  readonly #workers: Worker[]
  readonly #waiting = new Map<number, () => void>()
  #next = 0

  constructor(file: URL, size: number) {
    this.#workers = Array.from({ length: size }, () => {
      const w = new Worker(file)
      w.on('message', (id: number) => {
        const resolve = this.#waiting.get(id)!
        this.#waiting.delete(id)
        resolve()
      })
      return w
    })
  }

  run(): Promise<void> {
    const id = this.#next++
    return new Promise<void>((resolve) => {
      this.#waiting.set(id, resolve)
      this.#workers[id % this.#workers.length]!.postMessage(id)
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }
}

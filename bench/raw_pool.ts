/**
 * The floor: the least a worker_threads pool can do. One message per task
 * each way, an id per task, a promise per task, tasks spread round-robin.
 * No queue, no batching, no error handling: a library cannot go faster
 * without changing the protocol (batching), so this is the yardstick.
 *
 * `run()` sends the id alone (the no-op worker, workers/raw.mjs, echoes it);
 * `call(value)` sends [id, value] and resolves with the worker's [id, result]
 * (workers/digest_raw.mjs, the main-job case).
 */
import { Worker } from 'node:worker_threads'

export class RawPool {
  readonly #workers: Worker[]
  readonly #waiting = new Map<number, (value: unknown) => void>()
  #next = 0

  constructor(file: URL, size: number) {
    this.#workers = Array.from({ length: size }, () => {
      const w = new Worker(file)
      w.on('message', (message: number | [number, unknown]) => {
        const id = typeof message === 'number' ? message : message[0]
        const resolve = this.#waiting.get(id)!
        this.#waiting.delete(id)
        resolve(typeof message === 'number' ? undefined : message[1])
      })
      return w
    })
  }

  run(): Promise<void> {
    const id = this.#next++
    return new Promise<void>((resolve) => {
      this.#waiting.set(id, resolve as (value: unknown) => void)
      this.#workers[id % this.#workers.length]!.postMessage(id)
    })
  }

  call<T>(value: unknown): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve) => {
      this.#waiting.set(id, resolve as (value: unknown) => void)
      this.#workers[id % this.#workers.length]!.postMessage([id, value])
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }
}

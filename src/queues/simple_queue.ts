/**
 * Python's `multiprocessing.SimpleQueue`: an unbounded queue with just
 * `put`, `get`, `empty` and `close` (here the same ring as Queue).
 */
import { registerShareable } from '../wire/shareable.js'
import { reviveAs, type PrimitiveData } from '../sync/primitive.js'
import { Queue } from './queue.js'

/**
 * An unbounded Queue with only `put`, `get`, `empty` and `close`
 * (Python's `multiprocessing.SimpleQueue`).
 *
 * @example
 * const q = new SimpleQueue<number>()
 * await q.put(1)
 * console.log(await q.get()) // 1
 */
export class SimpleQueue<T = unknown> extends Queue<T> {
  constructor() {
    super({})
  }

  protected override get shareInfo() {
    return { type: 'multiproc.SimpleQueue', module: import.meta.url }
  }
}

registerShareable('multiproc.SimpleQueue', (data) => reviveAs(SimpleQueue, data as PrimitiveData))

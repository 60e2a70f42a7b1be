/**
 * Python's `multiprocessing.JoinableQueue`: a Queue that counts unfinished
 * items; consumers call `taskDone()` per item got, `join()` waits for all.
 */
import { registerShareable } from '../wire/shareable.js'
import { assertCanBlock } from '../sync/monitor.js'
import { reviveAs, type PrimitiveData } from '../sync/primitive.js'
import { parseTimeout, type TimeoutOptions } from '../sync/acquire_options.js'
import { Queue } from './queue.js'

/**
 * A Queue whose consumers call `taskDone()` for each item, so that
 * `await join()` waits until every item put was processed.
 *
 * @throws TooManyReleasesError from `taskDone()` called more times than items were put
 * @example
 * const q = new JoinableQueue<string>()
 * await q.put('job')
 * // in a worker: const job = await q.get(); ...; q.taskDone()
 * await q.join()
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  protected override get shareInfo() {
    return { type: 'multiproc.JoinableQueue', module: import.meta.url }
  }

  /**
   * Says one item got earlier is fully processed.
   * @throws TooManyReleasesError when called more times than items were put
   */
  taskDone(): void {
    if (this.remote !== null) return this.cast('taskDone')
    this.taskDoneLocal()
  }

  /** Waits until every item put has had its `taskDone()`. Resolves false on timeout. */
  async join(options?: TimeoutOptions): Promise<boolean> {
    const timeout = parseTimeout(options, 'JoinableQueue.join()')
    if (this.remote !== null) return (await this.call('join', [timeout])) as boolean
    return this.joinLocal(timeout)
  }

  /** The blocking form of `join`, for worker threads. */
  joinSync(options?: TimeoutOptions): boolean {
    const timeout = parseTimeout(options, 'JoinableQueue.joinSync()')
    if (this.remote !== null) throw this.notRemote('JoinableQueue.joinSync()')
    assertCanBlock('JoinableQueue.joinSync()')
    return this.joinLocalSync(timeout)
  }
}

registerShareable('multiproc.JoinableQueue', (data) => reviveAs(JoinableQueue, data as PrimitiveData))

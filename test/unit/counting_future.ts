// A Future that counts its registered done callbacks, so that tests catch a wait that leaks one.
import { Future, kRemoveDoneCallback, type DoneCallback } from '../../src/futures/future.js'

export class CountingFuture<T = unknown> extends Future<T> {
  /** Done callbacks registered and not removed, while the Future was pending. */
  live = 0
  override addDoneCallback(fn: DoneCallback<T>): void {
    if (!this.done()) this.live++
    super.addDoneCallback(fn)
  }
  override [kRemoveDoneCallback](fn: DoneCallback<T>): void {
    if (this.live > 0) this.live--
    super[kRemoveDoneCallback](fn)
  }
}

// Tasks for copies.mjs. They import multiproc themselves, so the worker
// thread holds two copies of the modules its one-file start bundle copies
// (dist/worker/thread_worker.cjs): the bundle's and the package's.
import { RemoteError } from 'multiproc'

const realNow = performance.now.bind(performance)

// Stops the worker's clock (performance.now), so the runtime's "flush after
// 1 ms" rule never sends a buffered result on its own, then keeps the
// thread busy while the caller sends the next tasks: they arrive together.
export function freezeClock(_event, busyMs) {
  const frozen = realNow()
  performance.now = () => frozen
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, busyMs)
  return 'frozen'
}

export function quick(x) {
  return x * 2
}

// Blocks the thread on an Event the caller sets once it has seen quick()'s
// result, which the worker still buffers: it must send it before blocking.
export function blockUntilSet(event) {
  performance.now = realNow
  return event.waitSync({ timeout: 3000 }) ? 'woken' : 'timed out (the buffered result was not sent before the thread blocked)'
}

// A relayed error, as a task rethrows what a nested executor gave it: a
// RemoteError (of this copy of multiproc) standing for a QuotaError.
export function relayQuota() {
  throw new RemoteError('over quota', 'QuotaError')
}

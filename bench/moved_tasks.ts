// The task that moves its result back: it needs the library's transfer().
import { transfer } from '../src/index.js'
import { scale } from './tasks.js'

/** `scale` in a worker, moving the buffer back instead of copying it. */
export function scaleMoved(a: Float64Array): unknown {
  return transfer(scale(a))
}

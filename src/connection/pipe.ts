/**
 * Python's `multiprocessing.Pipe()`: two connected Connections.
 *
 * @example
 * const [parentEnd, childEnd] = Pipe()
 * new Process({ target: worker, args: [childEnd] }).start()
 * console.log(await parentEnd.recv())
 */
import { boolean, knownKeys, plainObject } from '../internal/validate.js'
import { Queue } from '../queues/queue.js'
import { Connection } from './connection.js'

/** Options of `Pipe()`. */
export interface PipeOptions {
  /** Both ends send and receive (default true); false: the first end only receives, the second only sends. */
  duplex?: boolean
  /** Bytes reserved per direction (default 64 MiB, committed only as used). */
  capacity?: number
}

/**
 * Two connected `Connection`s (Python's `multiprocessing.Pipe()`); with `duplex: false` the first only receives and the second only sends.
 * @returns `[a, b]`: what one end sends, the other receives
 * @throws RangeError for an unknown option or a bad `capacity`
 * @example
 * const [a, b] = Pipe()
 * a.send({ hello: 1 })
 * console.log(await b.recv()) // { hello: 1 }
 */
export function Pipe(options: PipeOptions = {}): [Connection, Connection] {
  const o = plainObject('options', options)
  knownKeys('Pipe', o, ['duplex', 'capacity'])
  const duplex = o.duplex === undefined ? true : boolean('options.duplex', o.duplex)
  const queueOptions = o.capacity === undefined ? {} : { capacity: o.capacity as number }
  const aToB = new Queue(queueOptions)
  if (!duplex) return [new Connection(aToB, null), new Connection(null, aToB)]
  const bToA = new Queue(queueOptions)
  return [new Connection(bToA, aToB), new Connection(aToB, bToA)]
}

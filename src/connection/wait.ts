/**
 * Python's `multiprocessing.connection.wait()`: the connections with
 * something to read, waiting up to `timeout` ms for at least one.
 */
import { invalidArgType } from '../errors.js'
import { deadlineOf, remaining } from '../internal/deadline.js'
import { describe, timeoutOption } from '../internal/validate.js'
import { Connection } from './connection.js'

/** How long each round of waiting lasts, so no wait is left pending for long. */
const SLICE_MS = 50

/**
 * The connections that have something to read, waiting up to `timeout` ms for at least one (Python's `multiprocessing.connection.wait`; exported as `waitConnections`).
 * @returns the ready connections; empty when the timeout passed first
 * @throws TypeError for something that is not a Connection; RangeError for an unknown option
 * @example
 * const ready = await waitConnections([a, b], { timeout: 1000 })
 * for (const conn of ready) console.log(await conn.recv())
 */
export async function wait(connections: Iterable<Connection>, options: { timeout?: number } = {}): Promise<Connection[]> {
  const list = [...connections]
  for (const c of list) if (!(c instanceof Connection)) throw invalidArgType(`Expected \`connections\` to hold Connections, got ${describe(c)}`)
  const timeout = timeoutOption('waitConnections()', options)
  const deadline = deadlineOf(timeout)
  for (;;) {
    const ready: Connection[] = []
    for (const c of list) {
      if (c.readyNow()) ready.push(c)
      else if (!c.closed && c.readable && (await c.poll({ timeout: 0 }).catch(() => false))) ready.push(c)
    }
    if (ready.length > 0 || list.length === 0) return ready
    const left = remaining(deadline)
    if (left <= 0) return []
    const slice = Math.min(SLICE_MS, left)
    await Promise.race(list.filter((c) => !c.closed && c.readable).map((c) => c.poll({ timeout: slice }).catch(() => true)))
  }
}

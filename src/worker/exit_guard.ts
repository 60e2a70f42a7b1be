/**
 * The ways a worker can die, turned into messages the caller understands.
 * Shared by the thread and the process bootstraps:
 *
 *  - an uncaught exception or unhandled rejection: report it ('fatal'),
 *    flush finished results, exit with code 1;
 *  - `process.exit()` called by a task: flush finished results first.
 *
 * Results flushed here are the ones that finished before the crash; the
 * task that was running is known to the caller from the progress counters.
 */
import type { TaskRunner } from './runtime.js'
import { serializeError, type SerializedError } from '../wire/remote_error.js'
import type { FromWorker } from '../wire/messages.js'

/** Installs the handlers; returns the real `process.exit`. */
export function guardExit(runner: TaskRunner, post: (message: FromWorker) => void): (code?: number) => never {
  const realExit = process.exit.bind(process) as (code?: number) => never
  let dying = false
  const die = (error: unknown): void => {
    if (dying) return
    dying = true
    try {
      runner.flush()
    } catch {
      // the results are lost; the caller runs those tasks again
    }
    try {
      post({ t: 'fatal', e: serializeError(error) as SerializedError })
    } catch {
      // the caller still sees the exit
    }
    realExit(1)
  }
  process.exit = function exit(code?: number | string | null): never {
    try {
      runner.flush()
    } catch {
      // nothing more can be done on the way out
    }
    return realExit((code ?? undefined) as number | undefined)
  } as typeof process.exit
  process.on('uncaughtException', die)
  return realExit
}

/**
 * `multiproc/task`: what a running task may say to its caller before it ends.
 *
 *   import { progress } from 'multiproc/task'
 *
 *   export async function render(frames: number) {
 *     for (let i = 0; i < frames; i++) {
 *       await renderFrame(i)
 *       progress({ done: i + 1, of: frames })
 *     }
 *   }
 *
 * The caller listens with `submitWith({ onProgress })`, `map(..., { onProgress })`
 * or the `onProgress` option of a Pool call. This module imports nothing, so a
 * task module pays nothing to load it, and it reaches the worker's task runner
 * (worker/runtime.ts) through one global hook rather than an import: a task
 * that loads `multiproc/task` from the published package and a runner started
 * from another copy of multiproc (a bundle, a test run from sources) still
 * find each other.
 */

/** The hook the task runner installs in every thread that runs tasks. */
const HOOK = Symbol.for('multiproc.task.progress')

type Hook = (value: unknown) => void

/**
 * Sends `value` to the caller of the running task, without ending it.
 *
 * - Nothing happens when nobody listens (the caller gave no `onProgress`), or
 *   outside a task (the function called directly, in the main thread).
 * - Values keep their order, and the last value given before the task ends
 *   always arrives, before the task's result. They are throttled: a value
 *   leaves the worker at once at most every 50 ms (per worker), holding the
 *   latest value of each item; the others go with the task's result, in the
 *   same message. A tight loop may call it on every iteration, and a burst
 *   of short tasks that each report costs no extra message.
 * - The value travels as a result does (structured clone; on the cluster, the
 *   cluster's serializer): a value that cannot travel (a function, a class
 *   instance with private state...) throws SerializationError here, at the call.
 * - A call after the task ended (from a timer it left behind) is dropped: a
 *   message never reaches another task's listener.
 */
export function progress(value: unknown): void {
  const hook = (globalThis as Record<symbol, Hook | undefined>)[HOOK]
  if (hook !== undefined) hook(value)
}

// Task module of long_task_progress.ts. A task reports how far it got with
// progress() from multiproc/task (this repository: ../src/task.js).
import { progress } from '../src/task.js'

/** Burns about `ms` milliseconds of CPU; returns a number that depends on the work done. */
function spin(ms: number, seed: number): number {
  const end = performance.now() + ms
  let x = seed
  while (performance.now() < end) x = (x * 1103515245 + 12345) % 2147483648
  return x
}

/**
 * "Renders" `frames` frames of `msPerFrame` each, reporting `{ done, frames }`
 * after every frame (the caller hears at most one report per 50 ms, and
 * always the last); returns a checksum of the frames.
 */
export function renderFrames(frames: number, msPerFrame: number): number {
  let checksum = 0
  for (let i = 0; i < frames; i++) {
    checksum = (checksum + spin(msPerFrame, i)) % 1_000_000_007
    progress({ done: i + 1, frames })
  }
  return checksum
}

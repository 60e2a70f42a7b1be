// The tasks of the soak: each item answers 3x + 1, or kills its worker in
// one of the ways a worker dies. Imported by workers, so no top-level work.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crashNow, type CrashKind } from '../test/fixtures/chunk_tasks.js'

/** How an item kills its worker: process.exit, a throw in a timer, out of memory, SIGKILL of its own process. */
export type Crash = CrashKind

export interface SoakItem {
  x: number
  crash?: Crash
  /** Crash only while this marker file is absent (written just before crashing): a retry succeeds. */
  once?: string
  /** A directory where the worker announces its pid (a file named after it) when it runs its first item. */
  pids?: string
}

let announced = false

export function expected(x: number): number {
  return 3 * x + 1
}

export async function soakItem(item: SoakItem): Promise<number> {
  if (item.pids !== undefined && !announced) {
    announced = true
    writeFileSync(join(item.pids, String(process.pid)), '')
  }
  if (item.crash !== undefined && (item.once === undefined || !existsSync(item.once))) {
    if (item.once !== undefined) writeFileSync(item.once, '')
    return crashNow(item.crash, `soak item ${item.x}`)
  }
  return expected(item.x)
}

/** The CLI's task: a line "crash" ends the worker, any other line comes back with a "!" appended. */
export function soakLine(line: string): string {
  if (line === 'crash') process.exit(3)
  return `${line}!`
}

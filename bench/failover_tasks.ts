// Task module of the cluster failover case (bench/cluster_failover.ts).
import { appendFileSync, existsSync } from 'node:fs'

/**
 * Its first run logs its worker's pid to `file` and keeps its thread busy
 * until its worker process is killed (60 s at most); a run after that (the
 * task redelivered to another worker) returns at once, so the time measured
 * is the failover's, not the task's. Returns the pid that ran it.
 */
export function holdUntilKilled(file: string): number {
  if (existsSync(file)) return process.pid
  appendFileSync(file, `${process.pid}\n`)
  const end = Date.now() + 60_000
  while (Date.now() < end) {
    // busy, as a CPU-bound task is: only the worker's main thread sends heartbeats
  }
  return process.pid
}

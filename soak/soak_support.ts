// What the Executor, Pool and CLI scenarios share: the crash mix per
// backend, a killer of worker processes from outside, deadlines, and the
// cluster of the nats variants.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TestServer, TestWorker } from '../test/nats/cluster.js'
import type { Crash, SoakItem } from './crash_tasks.js'

/** The ways workers die on each backend (a thread cannot be SIGKILLed alone; an out-of-memory process floods stderr). */
export const CRASHES: Record<string, Crash[]> = {
  thread: ['exit', 'timer', 'oom'],
  process: ['exit', 'timer', 'kill'],
  nats: ['exit', 'timer'],
}

/** Memory limits that make the 'oom' crash quick. */
export const SOAK_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 }

export function count(scale: number, full: number, least: number): number {
  return Math.max(least, Math.round(full * scale))
}

/** Items 0..n-1; every 20th (5 %) crashes its worker, the kinds taking turns; `once`: only on its first run. */
export function crashItems(n: number, backend: string, dir: string, once: boolean, kinds: Crash[] = CRASHES[backend]!): SoakItem[] {
  // Workers announce their pids here (for the killer from outside).
  const pids = join(dir, 'pids')
  mkdirSync(pids, { recursive: true })
  return Array.from({ length: n }, (_, x) => {
    if (x % 20 !== 7) return { x, pids }
    const crash = kinds[Math.floor(x / 20) % kinds.length]!
    return once ? { x, crash, once: join(dir, `m${x}`), pids } : { x, crash, pids }
  })
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'multiproc-soak-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Resolves at the deadline (never rejects); `cancel` stops the timer. */
export function untilDeadline(deadline: number): { promise: Promise<'deadline'>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined
  const promise = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), Math.max(0, deadline - Date.now()))
  })
  return { promise, cancel: () => clearTimeout(timer) }
}

/** Runs `body` and gives up at the deadline (the body is left to the caller's cleanup). */
export async function withDeadline<T>(deadline: number, body: Promise<T>): Promise<T | 'deadline'> {
  const d = untilDeadline(deadline)
  try {
    return await Promise.race([body, d.promise])
  } finally {
    d.cancel()
  }
}

/** Waits for `what` at most `ms`; swallows its failure (cleanup must not hide the row). */
export async function bounded(what: Promise<unknown>, ms = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([what.catch(() => {}), new Promise((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
}

/**
 * Sends SIGKILL to a random worker process every `everyMs`, at most `max`
 * times: `kill -9` from outside. Only workers that ran an item (they
 * announce their pid in `pidsDir`, see SoakItem.pids) and are still
 * children of this process: a worker killed while it starts counts as a
 * start failure, and three in a row rightly break an executor (its workers
 * could never start), which is not what this tests.
 */
export function killChildrenPeriodically(everyMs: number, max: number, pidsDir: string): { stop(): void; kills(): number } {
  let kills = 0
  const timer = setInterval(() => {
    if (kills >= max) return
    let children: Set<number>
    try {
      children = new Set(
        execFileSync('ps', ['-o', 'pid=', '--ppid', String(process.pid)], { encoding: 'utf8' })
          .split('\n')
          .map((line) => Number(line.trim()))
          .filter((pid) => pid > 0),
      )
    } catch {
      return // ps found none (exit status 1) or is missing
    }
    const candidates = readdirSync(pidsDir).map(Number).filter((pid) => children.has(pid))
    const victim = candidates[Math.floor(Math.random() * candidates.length)]
    if (victim === undefined) return
    try {
      process.kill(victim, 'SIGKILL')
      kills++
    } catch {
      // it exited meanwhile
    }
  }, everyMs)
  timer.unref()
  return { stop: () => clearInterval(timer), kills: () => kills }
}

/** A private nats-server with two worker processes that may run the soak's tasks. */
export async function startCluster(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await TestServer.start()
  if (server.external) throw new Error('no nats-server binary')
  const allow = [fileURLToPath(new URL('./', import.meta.url))]
  const workers = [1, 2].map(() => new TestWorker(server.url, ['--concurrency', '2', '--ack-wait', '3000', '--session-timeout', '8000'], { MULTIPROC_NATS_URL: server.url }, allow))
  try {
    await Promise.all(workers.map((w) => w.ready))
  } catch (error) {
    await Promise.all(workers.map((w) => w.kill()))
    await server.stop()
    throw error
  }
  return {
    url: server.url,
    stop: async () => {
      await Promise.all(workers.map((w) => w.kill()))
      await server.stop()
    },
  }
}

/** Up to `max` of the indexes, for a row's `pending`. */
export function sample(indexes: number[], max = 10): string {
  return indexes.length <= max ? indexes.join(', ') : `${indexes.slice(0, max).join(', ')} and ${indexes.length - max} more`
}

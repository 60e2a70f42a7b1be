/**
 * Who am I: Python's `current_process()`, `parent_process()` and
 * `active_children()`.
 *
 * The main program is 'MainProcess'. Inside a Process the worker learns its
 * name and its parent from the Process that started it (process_entry.ts).
 * Pool workers are named after their worker label.
 */
import { isMainThread, threadId } from 'node:worker_threads'

/** What `currentProcess()` and `parentProcess()` describe. */
export interface ProcessInfo {
  /** `'MainProcess'` in the main program; a Process's name inside it. */
  readonly name: string
  /** The OS process id (threads of one process share it). */
  readonly pid: number
  /** The thread id (0 for a process's main thread). */
  readonly ident: number
  /** Whether it is a daemon Process. */
  readonly daemon: boolean
}

/** @internal What a Process hands its worker. */
export interface ProcessInfoData {
  name: string
  daemon: boolean
  parent: ProcessInfo
}

let current: ProcessInfo | null = null
let parent: ProcessInfo | null = null

/** @internal Called in the worker by process_entry.ts. */
export function setCurrentProcess(data: ProcessInfoData): void {
  current = { name: data.name, pid: process.pid, ident: threadId, daemon: data.daemon }
  parent = data.parent
}

/**
 * Set on `globalThis` by a child-process worker's entry (process_bootstrap.ts):
 * a global, not a module variable nor the entry's file name, because inside a
 * bundle the entry has another name and may hold its own copy of this module.
 */
export const kProcessWorker = Symbol.for('multiproc.processWorker')

function inChildProcess(): boolean {
  return isMainThread && (globalThis as { [kProcessWorker]?: boolean })[kProcessWorker] === true
}

/**
 * The running process: `{ name: 'MainProcess', pid, ... }` in the main
 * program, the Process's name inside one.
 * @returns a description of this process or thread; never throws
 * @example
 * console.log(currentProcess().name) // 'MainProcess', or 'Process-1' inside a Process
 */
export function currentProcess(): ProcessInfo {
  if (current !== null) return current
  if (isMainThread && !inChildProcess()) return { name: 'MainProcess', pid: process.pid, ident: 0, daemon: false }
  return { name: isMainThread ? `PoolWorker-${process.pid}` : `PoolWorker-thread-${threadId}`, pid: process.pid, ident: threadId, daemon: true }
}

/**
 * The process that started this one, or null in the main program.
 * @example
 * console.log(parentProcess()?.name ?? 'no parent')
 */
export function parentProcess(): ProcessInfo | null {
  if (parent !== null) return parent
  if (isMainThread && !inChildProcess()) return null
  return { name: 'MainProcess', pid: isMainThread ? process.ppid : process.pid, ident: 0, daemon: false }
}

const children = new Set<{ isAlive(): boolean }>()

/** @internal A Process registers itself on start. */
export function addChild(child: { isAlive(): boolean }): void {
  children.add(child)
}

/**
 * The Processes started by this program that are still running
 * (finished ones are forgotten, as Python's `active_children()` joins them).
 * @typeParam P - the Process type to return them as
 * @example
 * for (const p of activeChildren<Process>()) p.terminate()
 */
export function activeChildren<P extends { isAlive(): boolean }>(): P[] {
  const out: P[] = []
  for (const child of children) {
    if (child.isAlive()) out.push(child as P)
    else children.delete(child)
  }
  return out
}

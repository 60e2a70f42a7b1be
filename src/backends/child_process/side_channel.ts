/**
 * A second conversation on a child worker's IPC channel, beside the task
 * protocol: messages whose `t` is 'mp-broker' carry calls from primitives
 * used in the child (a Queue, a Lock...) to the parent that owns them
 * (sync/broker.ts). The backend hands them to the handler registered here
 * and never to the scheduler; nothing here knows what they mean.
 */
export interface SideMessage {
  t: 'mp-broker'
  [key: string]: unknown
}

export type SideChannelHandler = (message: SideMessage, reply: (message: SideMessage) => void, pid: number) => void

let handler: SideChannelHandler | null = null
let goneHandler: ((pid: number) => void) | null = null

/** `onGone` hears when a child's channel closed: its pending calls can be dropped. */
export function setSideChannelHandler(h: SideChannelHandler, onGone?: (pid: number) => void): void {
  handler = h
  goneHandler = onGone ?? null
}

/** The child with `pid` cannot talk any more. */
export function sideChannelGone(pid: number): void {
  goneHandler?.(pid)
}

export function isSideMessage(value: unknown): value is SideMessage {
  return typeof value === 'object' && value !== null && (value as { t?: unknown }).t === 'mp-broker'
}

/** Delivers a side message from the child with `pid`; `send` talks back to it. */
export function deliverSideMessage(message: SideMessage, send: (message: SideMessage) => void, pid: number): void {
  handler?.(message, send, pid)
}

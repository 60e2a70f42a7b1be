/**
 * Library objects as task arguments: a Lock, a Queue, a Value, a manager proxy.
 *
 * Structured clone would turn such an object into a plain object (its class
 * lost) and, between processes, copy the state it should share. So these
 * objects implement `[kShare](target)`: they describe themselves as a
 * `ShareDescriptor` (the module that defines their class, a type name, and
 * cloneable data such as a SharedArrayBuffer or a broker id), chosen for the
 * backend the task goes to. The caller swaps them for descriptors at submit
 * (only for the tasks that hold one: the argument check already walks every
 * argument and notices them); the worker imports the module, which registers
 * a reviver, and rebuilds a twin attached to the same state before the task
 * runs.
 *
 * Each object decides from the target's capabilities (same machine? shared
 * memory? the caller's own child processes?), never from a backend's name:
 * an executor passes its `Capabilities`, which satisfy `ShareTarget`.
 *
 *   caller: Lock ──[kShare](thread capabilities)──▶ { $: 'mp-share', module, type: 'Lock', data: SAB }
 *   worker: import(module) registers 'Lock' ──▶ revive(data) ──▶ Lock over the same SAB
 */
import { types } from 'node:util'
import { resolveModule } from './library_module.js'
import type { Capabilities } from '../backends/capabilities.js'

export const kShare = Symbol.for('multiproc.share')

/**
 * Where a shareable object is going: the capabilities of the workers that
 * receive it (an executor's `Capabilities` are one), and optionally a name
 * for error messages.
 */
export interface ShareTarget extends Pick<Capabilities, 'sameMachine' | 'sharedMemory' | 'isolated' | 'ownProcess' | 'ownWorkers'> {
  /** The backend's name ('thread', 'nats', 'manager'...), for error messages only: decisions read the capabilities. */
  readonly backend?: string
}

/** How an error message names a target: its backend's name, or what it is. */
export function targetName(target: ShareTarget): string {
  return target.backend ?? (target.sameMachine ? 'local' : 'remote')
}

/** What travels in place of a shareable object. */
export interface ShareDescriptor {
  readonly $: 'mp-share'
  /** URL of the module that registers the reviver for `type` (the library's own: a `multiproc:` id, see library_module.ts). */
  readonly module: string
  readonly type: string
  /** Cloneable state (for the target's backend). */
  readonly data: unknown
}

/** An object that knows how to travel to a worker. */
export interface Shareable {
  [kShare](target: ShareTarget): ShareDescriptor
}

/**
 * What a reviver gets besides the data: the capabilities of the worker it
 * runs in, as far as the caller states them (no reviver needs one yet, so
 * every field is optional; `backend` is a name for messages only).
 */
export type ReviveContext = Partial<ShareTarget>

export type Reviver = (data: unknown, context: ReviveContext) => unknown

const revivers = new Map<string, Reviver>()

export function isShareable(value: unknown): value is Shareable {
  return typeof value === 'object' && value !== null && typeof (value as Partial<Shareable>)[kShare] === 'function'
}

export function isShareDescriptor(value: unknown): value is ShareDescriptor {
  return typeof value === 'object' && value !== null && (value as ShareDescriptor).$ === 'mp-share'
}

/**
 * Registers how to rebuild objects of `type` in a worker. Called at the top
 * level of the module named in the descriptors, so importing it is enough.
 */
export function registerShareable(type: string, revive: Reviver): void {
  revivers.set(type, revive)
}

/**
 * Returns a copy of `value` with every shareable object replaced by its
 * descriptor for `target`. Only containers on the way to a shareable are
 * copied; everything else is kept as is.
 */
export function encodeShareables(value: unknown, target: ShareTarget, seen = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null) return value
  const cached = seen.get(value)
  if (cached !== undefined) return cached
  if (isShareable(value)) {
    const descriptor = value[kShare](target)
    seen.set(value, descriptor)
    return descriptor
  }
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length)
    seen.set(value, out)
    for (let i = 0; i < value.length; i++) out[i] = encodeShareables(value[i], target, seen)
    return out
  }
  if (types.isMap(value)) {
    const out = new Map()
    seen.set(value, out)
    for (const [k, v] of value as Map<unknown, unknown>) out.set(encodeShareables(k, target, seen), encodeShareables(v, target, seen))
    return out
  }
  if (types.isSet(value)) {
    const out = new Set()
    seen.set(value, out)
    for (const v of value as Set<unknown>) out.add(encodeShareables(v, target, seen))
    return out
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {}
    seen.set(value, out)
    for (const key of Object.keys(value)) out[key] = encodeShareables((value as Record<string, unknown>)[key], target, seen)
    return out
  }
  return value
}

/** Rebuilds, in place, every descriptor inside `value` (arguments are this worker's own copy). */
export async function reviveShareables(value: unknown, context: ReviveContext): Promise<unknown> {
  const descriptors: ShareDescriptor[] = []
  collect(value, descriptors, new Set())
  for (const module of new Set(descriptors.map((d) => d.module))) await import(resolveModule(module))
  const revived = new Map<ShareDescriptor, unknown>()
  for (const d of descriptors) {
    const revive = revivers.get(d.type)
    if (revive === undefined) throw new TypeError(`No reviver for shared object type ${d.type} (module ${d.module} did not register one)`)
    revived.set(d, revive(d.data, context))
  }
  return replace(value, revived, new Set())
}

function collect(value: unknown, out: ShareDescriptor[], seen: Set<object>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return
  seen.add(value)
  if (isShareDescriptor(value)) {
    out.push(value)
    return
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen)
  else if (types.isMap(value)) for (const [k, v] of value as Map<unknown, unknown>) (collect(k, out, seen), collect(v, out, seen))
  else if (types.isSet(value)) for (const v of value as Set<unknown>) collect(v, out, seen)
  else if (!ArrayBuffer.isView(value) && !types.isAnyArrayBuffer(value)) for (const key of Object.keys(value)) collect((value as Record<string, unknown>)[key], out, seen)
}

function replace(value: unknown, revived: Map<ShareDescriptor, unknown>, seen: Set<object>): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (isShareDescriptor(value)) return revived.get(value)
  if (seen.has(value)) return value
  seen.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = replace(value[i], revived, seen)
  } else if (types.isMap(value)) {
    const map = value as Map<unknown, unknown>
    const entries = [...map]
    map.clear()
    for (const [k, v] of entries) map.set(replace(k, revived, seen), replace(v, revived, seen))
  } else if (types.isSet(value)) {
    const set = value as Set<unknown>
    const items = [...set]
    set.clear()
    for (const v of items) set.add(replace(v, revived, seen))
  } else if (!ArrayBuffer.isView(value) && !types.isAnyArrayBuffer(value)) {
    for (const key of Object.keys(value)) (value as Record<string, unknown>)[key] = replace((value as Record<string, unknown>)[key], revived, seen)
  }
  return value
}

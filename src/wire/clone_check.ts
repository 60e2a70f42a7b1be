/**
 * What may cross between a caller and a worker: values travel by the
 * structured clone algorithm (worker threads) or the V8 serializer (child
 * processes, the cluster: wire/serializer.ts), which are the same
 * algorithm: primitives, plain objects and arrays, typed arrays and
 * (Shared)ArrayBuffers, Map, Set, Date, RegExp, BigInt, errors.
 *
 * `submit()` must refuse an argument that cannot be cloned synchronously,
 * before the task is batched with others. A full clone per submit would
 * double the cost of every task, so `findUncloneable` walks plain data with
 * `typeof` checks (cheap) and asks `structuredClone` only about objects it
 * cannot judge (class instances, host objects).
 */
import { types } from 'node:util'
import type { Shareable } from './shareable.js'

/**
 * shareable.ts's test, by its registered symbol: a worker loads this module
 * (result_buffer.ts) and should not load the shareable codec with it.
 */
function isShareable(value: unknown): value is Shareable {
  return typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[kShare] === 'function'
}
const kShare = Symbol.for('multiproc.share')

/** Why a value cannot be sent, and where in it. */
export interface CloneProblem {
  path: string
  reason: string
}

const MAX_DEPTH = 256

/**
 * Returns the first part of `value` that cannot be cloned, or null.
 * `transferList` entries are allowed where they appear. With `sharedMemory`
 * false (a process worker), SharedArrayBuffers and views on them are
 * refused: they would arrive as copies, silently unshared.
 */
export function findUncloneable(
  value: unknown,
  path: string,
  transferList?: readonly unknown[],
  sharedMemory = true,
  found?: { shareables: number },
): CloneProblem | null {
  const seen = new Set<object>()
  return walk(value, path, seen, transferList, 0, sharedMemory, found)
}

function walk(
  value: unknown,
  path: string,
  seen: Set<object>,
  transferList: readonly unknown[] | undefined,
  depth: number,
  shared: boolean,
  found?: { shareables: number },
): CloneProblem | null {
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return null
    case 'function':
      return {
        path,
        reason: `${path} is a function${value.name ? ` (${value.name})` : ''}; functions cannot be sent to a worker, pass data, or pass an exported function as the task itself`,
      }
    case 'symbol':
      return { path, reason: `${path} is a symbol; symbols cannot be sent to a worker` }
  }
  if (value === null) return null
  const obj = value as object
  if (seen.has(obj)) return null
  if (transferList !== undefined && transferList.includes(obj)) return null
  if (isShareable(obj)) {
    // A Lock, a Queue, a proxy...: it travels as a descriptor (wire/shareable.ts).
    if (found !== undefined) found.shareables++
    return null
  }
  if (depth > MAX_DEPTH) return tryClone(obj, path)
  seen.add(obj)
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const item: unknown = obj[i]
      // Fast path for the common array of primitives.
      if (item === null || (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol')) continue
      const problem = walk(item, `${path}[${i}]`, seen, transferList, depth + 1, shared, found)
      if (problem !== null) return problem
    }
    // Named properties of an array are cloned too (and can hold a function).
    const keys = Object.keys(obj)
    if (keys.length !== obj.length) {
      for (const key of keys) {
        if (String(Number(key) >>> 0) === key && Number(key) < obj.length) continue
        const problem = walk((obj as unknown as Record<string, unknown>)[key], `${path}.${key}`, seen, transferList, depth + 1, shared, found)
        if (problem !== null) return problem
      }
    }
    return null
  }
  if (ArrayBuffer.isView(obj) || types.isAnyArrayBuffer(obj)) {
    if (!shared && (types.isSharedArrayBuffer(obj) || (ArrayBuffer.isView(obj) && types.isSharedArrayBuffer(obj.buffer)))) {
      return {
        path,
        reason: `${path} is backed by a SharedArrayBuffer, which a process worker cannot share (it would get a copy); use the thread backend to share memory`,
      }
    }
    return null
  }
  if (types.isSymbolObject(obj)) return { path, reason: `${path} is a boxed symbol; symbols cannot be sent to a worker` }
  if (types.isDate(obj) || types.isRegExp(obj) || types.isBoxedPrimitive(obj)) return null
  if (types.isMap(obj)) {
    let i = 0
    for (const [k, v] of obj as Map<unknown, unknown>) {
      const problem = walk(k, `${path}.keys()[${i}]`, seen, transferList, depth + 1, shared, found) ?? walk(v, `${path}.get(${describeKey(k)})`, seen, transferList, depth + 1, shared, found)
      if (problem !== null) return problem
      i++
    }
    return null
  }
  if (types.isSet(obj)) {
    let i = 0
    for (const v of obj as Set<unknown>) {
      const problem = walk(v, `${path}.values()[${i}]`, seen, transferList, depth + 1, shared, found)
      if (problem !== null) return problem
      i++
    }
    return null
  }
  if (types.isNativeError(obj) || obj instanceof Error) return null
  const proto = Object.getPrototypeOf(obj)
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(obj)) {
      const item = (obj as Record<string, unknown>)[key]
      if (item === null || (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol')) continue
      const problem = walk(item, `${path}.${key}`, seen, transferList, depth + 1, shared, found)
      if (problem !== null) return problem
    }
    return null
  }
  if (types.isPromise(obj)) {
    return { path, reason: `${path} is a Promise; await it first and send its value` }
  }
  return tryClone(obj, path)
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key)
}

function tryClone(obj: object, path: string): CloneProblem | null {
  try {
    structuredClone(obj)
    return null
  } catch (error) {
    const kind = obj.constructor?.name ? `a ${obj.constructor.name}` : 'an object'
    return { path, reason: `${path} is ${kind} that cannot be cloned (${(error as Error).message})` }
  }
}

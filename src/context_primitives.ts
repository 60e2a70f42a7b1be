/**
 * The Process class and the primitives as a Context hands them out
 * (`new (getContext('process').Queue)()`). Most primitives are the same
 * classes on every backend: they work across threads through shared memory
 * and across child processes through the parent as broker. Two differ by
 * context: `Process` runs on the context's backend, and `Value`/`Array` of
 * the process context live in a shared file child processes can open.
 */
import { Process, type ProcessOptions } from './process.js'
import { SharedArray, Value, type CType, type SharedOptions } from './sharedctypes.js'
import type { Task } from './task_ref.js'
import type { Context } from './context.js'

export type ContextProcess = new <T extends Task>(options: Omit<ProcessOptions<T>, 'context'>) => Process<T>
export type ContextValue = new <V extends number | bigint = number>(type: CType, init?: V, options?: SharedOptions) => Value<V>
export type ContextArray = new <V extends number | bigint = number>(type: CType, sizeOrInit: number | ArrayLike<V> | Iterable<V>, options?: SharedOptions) => SharedArray<V>

export interface BoundClasses {
  Process: ContextProcess
  Value: ContextValue
  Array: ContextArray
}

const cache = new WeakMap<Context, BoundClasses>()

export function boundClasses(context: Context): BoundClasses {
  let bound = cache.get(context)
  if (bound !== undefined) return bound
  const processShared = context.name === 'process'
  bound = {
    Process: class BoundProcess<T extends Task> extends Process<T> {
      constructor(options: Omit<ProcessOptions<T>, 'context'>) {
        super({ ...options, context } as ProcessOptions<T>)
      }
    } as ContextProcess,
    Value: processShared
      ? (class ProcessValue<V extends number | bigint = number> extends Value<V> {
          constructor(type: CType, init?: V, options: SharedOptions = {}) {
            super(type, init, { processShared: true, ...options })
          }
        } as ContextValue)
      : (Value as ContextValue),
    Array: processShared
      ? (class ProcessArray<V extends number | bigint = number> extends SharedArray<V> {
          constructor(type: CType, sizeOrInit: number | ArrayLike<V> | Iterable<V>, options: SharedOptions = {}) {
            super(type, sizeOrInit, { processShared: true, ...options })
          }
        } as ContextArray)
      : (SharedArray as ContextArray),
  }
  cache.set(context, bound)
  return bound
}

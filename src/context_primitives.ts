/**
 * The Process class and the primitives as a Context hands them out
 * (`new (getContext('process').Queue)()`). Most primitives are the same
 * classes on every backend: they work across threads through shared memory
 * and across child processes through the parent as broker. Two differ by
 * context: `Process` runs on the context's backend, and `Value`/`Array` of
 * the process context live in a shared file child processes can open.
 */
import { Process, type ProcessOptions } from './process.js'
import { SharedArray, Value, type ElementOf, type SharedOptions, type TypeCode } from './sharedctypes.js'
import type { Task } from './task_ref.js'
import type { Context } from './context.js'

/** A `Process` class bound to a context (`getContext(name).Process`): its options have no `context`. */
export type ContextProcess = new <T extends Task>(options: Omit<ProcessOptions<T>, 'context'>) => Process<T>
/** A `Value` class bound to a context (`getContext(name).Value`). */
export type ContextValue = new <T extends TypeCode>(type: T, init?: ElementOf<T>, options?: SharedOptions) => Value<T>
/** An `Array` class bound to a context (`getContext(name).Array`). */
export type ContextArray = new <T extends TypeCode>(type: T, sizeOrInit: number | ArrayLike<ElementOf<T>> | Iterable<ElementOf<T>>, options?: SharedOptions) => SharedArray<T>

export interface BoundClasses {
  Process: ContextProcess
  Value: ContextValue
  Array: ContextArray
}

const cache = new WeakMap<Context, BoundClasses>()

export function boundClasses(context: Context): BoundClasses {
  let bound = cache.get(context)
  if (bound !== undefined) return bound
  // Workers on this machine that share no memory with the caller (child
  // processes) reach a Value only through a shared file.
  const { sameMachine, sharedMemory } = context.capabilities
  const processShared = sameMachine && !sharedMemory
  bound = {
    Process: class BoundProcess<T extends Task> extends Process<T> {
      constructor(options: Omit<ProcessOptions<T>, 'context'>) {
        super({ ...options, context } as ProcessOptions<T>)
      }
    } as ContextProcess,
    Value: processShared
      ? (class ProcessValue<T extends TypeCode> extends Value<T> {
          constructor(type: T, init?: ElementOf<T>, options: SharedOptions = {}) {
            super(type, init, { processShared: true, ...options })
          }
        } as ContextValue)
      : (Value as ContextValue),
    Array: processShared
      ? (class ProcessArray<T extends TypeCode> extends SharedArray<T> {
          constructor(type: T, sizeOrInit: number | ArrayLike<ElementOf<T>> | Iterable<ElementOf<T>>, options: SharedOptions = {}) {
            super(type, sizeOrInit, { processShared: true, ...options })
          }
        } as ContextArray)
      : (SharedArray as ContextArray),
  }
  cache.set(context, bound)
  return bound
}

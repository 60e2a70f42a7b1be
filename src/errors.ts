/**
 * The whole error hierarchy of multiproc.
 *
 * Every error the library raises on its own account is a `MultiprocError`
 * with a stable `code` (safe to switch on; messages may improve over time).
 * Bad arguments are the exception: they are the built-in `TypeError` /
 * `RangeError` with a `code` property, like Node's own `ERR_INVALID_ARG_*`,
 * so `catch (e) { if (e instanceof TypeError) ... }` keeps working.
 *
 * Errors thrown by user tasks are not wrapped: they are rebuilt in the caller
 * as their own class (see `wire/remote_error.ts`); only an error whose class
 * cannot be rebuilt becomes a `RemoteError`.
 */

/** Options shared by every multiproc error. */
export interface MultiprocErrorOptions {
  cause?: unknown
}

/** The base class of every error multiproc raises on its own account. */
export class MultiprocError extends Error {
  /** A stable, machine-readable identifier such as `ERR_MP_TIMEOUT`. */
  readonly code: string

  constructor(message: string, code: string, options?: MultiprocErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined)
    this.code = code
  }
}

/** A Future, a queued task or a whole map was cancelled before it could finish. */
export class CancelledError extends MultiprocError {
  constructor(message = 'The operation was cancelled', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_CANCELLED', options)
  }
}

/** A timeout elapsed: a task ran too long, or a `result({ timeout })` gave up waiting. */
export class TimeoutError extends MultiprocError {
  constructor(message = 'The operation timed out', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_TIMEOUT', options)
  }
}

/** An operation is not allowed in the object's current state (e.g. setting a result twice). */
export class InvalidStateError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_INVALID_STATE', options)
  }
}

/**
 * The executor cannot take or finish work: it was shut down, or its workers
 * cannot start (for example an `initializer` that throws). Unlike Python's
 * `BrokenProcessPool`, a single crashed worker never breaks an executor.
 */
export class BrokenExecutorError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_BROKEN_EXECUTOR', options)
  }
}

/** Details of a worker that died while running a task. */
export interface WorkerCrashInfo {
  /** Which worker died (thread id, pid, or a backend-specific id). */
  workerId: string
  /** Exit code, Python style: negative `-N` when the worker was killed by signal N. `null` if unknown. */
  exitCode: number | null
  /** The signal that killed the worker (process backends), if any. */
  signal: NodeJS.Signals | null
  /** The name of the task that was running (export name and module). */
  task?: string
}

/** The worker running a task died (process.exit, uncaught error, out of memory, killed). */
export class WorkerCrashedError extends MultiprocError {
  readonly workerId: string
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly task: string | undefined

  constructor(message: string, info: WorkerCrashInfo, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_WORKER_CRASHED', options)
    this.workerId = info.workerId
    this.exitCode = info.exitCode
    this.signal = info.signal
    this.task = info.task
  }
}

/** A value could not be sent between the caller and a worker. */
export class SerializationError extends MultiprocError {
  /** Index of the offending argument, or -1 for a task's result. */
  readonly argIndex: number
  /** Where in the value the problem is, e.g. `args[1].callback`. */
  readonly path: string
  /** Why the value cannot be sent. */
  readonly reason: string

  constructor(message: string, details: { argIndex: number; path: string; reason: string }, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_SERIALIZATION', options)
    this.argIndex = details.argIndex
    this.path = details.path
    this.reason = details.reason
  }
}

/**
 * An error thrown in a worker whose class could not be rebuilt in the caller
 * (a user class that was not registered with `registerError`). It keeps the
 * original `name`, message, stack, `cause` and own properties.
 */
export class RemoteError extends MultiprocError {
  /** The constructor name of the original error in the worker. */
  readonly remoteName: string

  constructor(message: string, remoteName: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_REMOTE', options)
    this.remoteName = remoteName
    Object.defineProperty(this, 'name', { value: remoteName, writable: true, configurable: true })
  }
}

/**
 * A task reference cannot be resolved in the worker: the module does not
 * export the name, or the export is not a function.
 */
export class TaskNotFoundError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_TASK_NOT_FOUND', options)
  }
}

// Explicit names survive minifiers, which rename classes.
for (const [cls, name] of [
  [MultiprocError, 'MultiprocError'],
  [CancelledError, 'CancelledError'],
  [TimeoutError, 'TimeoutError'],
  [InvalidStateError, 'InvalidStateError'],
  [BrokenExecutorError, 'BrokenExecutorError'],
  [WorkerCrashedError, 'WorkerCrashedError'],
  [SerializationError, 'SerializationError'],
  [RemoteError, 'RemoteError'],
  [TaskNotFoundError, 'TaskNotFoundError'],
] as const) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true })
}

/** Creates a `TypeError` with a stable `code`, like Node's own argument errors. */
export function invalidArgType(message: string, code = 'ERR_MP_INVALID_ARG_TYPE'): TypeError {
  const error = new TypeError(message)
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true })
  return error
}

/** Creates a `RangeError` with a stable `code`, like Node's own argument errors. */
export function invalidArgValue(message: string, code = 'ERR_MP_INVALID_ARG_VALUE'): RangeError {
  const error = new RangeError(message)
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true })
  return error
}

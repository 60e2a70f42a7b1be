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
  /** Which worker died (as in `executor.stats()` and error messages). */
  readonly workerId: string
  /** Its exit code (`-9` for SIGKILL, as Python reports it), or null if it has none. */
  readonly exitCode: number | null
  /** The signal that killed it, if any. */
  readonly signal: NodeJS.Signals | null
  /** The task it was running (`module#export`), when known. */
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
 * A task's arguments or its result, encoded, are larger than the limit its
 * sender allows (`maxPayloadSize` of `NatsExecutor` for arguments and the
 * results it accepts, of `NatsWorker` / `multiproc worker --max-payload-size`
 * for results). Only that task fails. A `SerializationError` (same `code`),
 * with the size, the limit and the option that raises it.
 */
export class PayloadTooLargeError extends SerializationError {
  /** The encoded size, in bytes. */
  readonly size: number
  /** The limit it exceeds, in bytes. */
  readonly limit: number
  /** The option that sets the limit, as the message names it. */
  readonly option: string

  constructor(
    message: string,
    details: { argIndex: number; path: string; reason: string; size: number; limit: number; option: string },
    options?: MultiprocErrorOptions,
  ) {
    super(message, details, options)
    this.size = details.size
    this.limit = details.limit
    this.option = details.option
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
 * The brand of a RemoteError, on its prototype (a rebuilt RemoteError is
 * made from the prototype, without the constructor). `instanceof` fails
 * across copies of this module, and a worker thread holds two: the one its
 * start bundle (dist/worker/thread_worker.cjs) copied, and the package's,
 * whose RemoteError a task rethrows from a nested executor.
 */
const kRemoteError = Symbol.for('multiproc.RemoteError')
Object.defineProperty(RemoteError.prototype, kRemoteError, { value: true })

/** Whether `value` is a RemoteError of any copy of multiproc. */
export function isRemoteError(value: unknown): value is RemoteError {
  return typeof value === 'object' && value !== null && (value as { [kRemoteError]?: unknown })[kRemoteError] === true
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

/**
 * A task module could not be imported in the worker: it does not exist, or
 * it threw while it was evaluated. `cause` is the original error and
 * `moduleUrl` the module that failed.
 *
 * @example
 * try { await executor.submit(task(new URL('./gone.js', import.meta.url), 'f')) }
 * catch (e) { if (e instanceof TaskImportError) console.error(e.moduleUrl, e.cause) }
 */
export class TaskImportError extends MultiprocError {
  /** The URL (or specifier) of the module that failed to import. */
  readonly moduleUrl: string

  constructor(message: string, moduleUrl: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_TASK_IMPORT', options)
    this.moduleUrl = moduleUrl
  }
}

/** Wraps the error of a failed `import()` of a task module into a TaskImportError. */
export function taskImportError(moduleUrl: string, error: unknown): TaskImportError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : `it threw ${String(error)}`
  return new TaskImportError(`Cannot import task module ${moduleUrl}: ${reason}`, moduleUrl, { cause: error })
}

// ---------------------------------------------------------------------------
// Queues, pipes and synchronisation primitives

/** `get` on an empty queue gave up: `getNowait()`, or `get({ timeout })` timed out (Python's `queue.Empty`). */
export class Empty extends MultiprocError {
  constructor(message = 'The queue is empty', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_QUEUE_EMPTY', options)
  }
}

/** `put` on a full bounded queue gave up: `putNowait()`, or `put({ timeout })` timed out (Python's `queue.Full`). */
export class Full extends MultiprocError {
  constructor(message = 'The queue is full', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_QUEUE_FULL', options)
  }
}

/** The queue was closed: nothing more can be put (or got, once it is drained). */
export class QueueClosedError extends MultiprocError {
  constructor(message = 'The queue is closed', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_QUEUE_CLOSED', options)
  }
}

/**
 * A lock or condition was used by someone who does not hold it: releasing an
 * unlocked `Lock`, releasing an `RLock` owned by another thread, waiting on a
 * `Condition` without holding its lock.
 */
export class NotHeldError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_NOT_HELD', options)
  }
}

/** Released more often than acquired: a `BoundedSemaphore` over its initial value, `JoinableQueue.taskDone()` once too often. */
export class TooManyReleasesError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_TOO_MANY_RELEASES', options)
  }
}

/** A `Barrier` is broken (aborted, reset while parties waited, or a wait timed out); Python's `BrokenBarrierError`. */
export class BrokenBarrierError extends MultiprocError {
  constructor(message = 'The barrier is broken', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_BROKEN_BARRIER', options)
  }
}

/**
 * A primitive was handed to a backend that cannot reach it (for example a
 * thread-only object passed to a child process or to the cluster), or used in
 * a place it cannot work (a blocking call on the main thread).
 */
export class UnsupportedBackendError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_UNSUPPORTED_BACKEND', options)
  }
}

// ---------------------------------------------------------------------------
// Connections, listeners and the Manager

/** The connection is closed (by this side, or the other side went away). */
export class ConnectionClosedError extends MultiprocError {
  constructor(message = 'The connection is closed', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_CONNECTION_CLOSED', options)
  }
}

/** `recv()` found nothing left to read and the other end is closed (Python's `EOFError`). */
export class EOFError extends MultiprocError {
  constructor(message = 'The other end of the connection is closed and nothing is left to read', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_EOF', options)
  }
}

/** The authkey challenge failed: the two sides do not share the same key. */
export class AuthenticationError extends MultiprocError {
  constructor(message = 'Authentication failed: the authkeys differ', options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_AUTHENTICATION', options)
  }
}

/** `recvBytesInto()` was given a buffer too small for the message; the message is kept on `.data`. */
export class BufferTooShortError extends MultiprocError {
  /** The whole message that did not fit. */
  readonly data: Uint8Array
  constructor(data: Uint8Array, message = `The buffer is too short for a message of ${data.byteLength} bytes`, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_BUFFER_TOO_SHORT', options)
    this.data = data
  }
}

/** What a connect attempt was waiting for when it gave up. */
export type ConnectStage = 'connect' | 'handshake' | 'reply'

/**
 * `Client()` or `Manager.connect()` gave up: the peer did not accept the
 * connection (`stage: 'connect'`), accepted it but did not finish the authkey
 * handshake (`'handshake'`), or did not answer the manager's first request
 * (`'reply'`) within `timeout`. A `TimeoutError`, with the peer's `address`.
 */
export class ConnectTimeoutError extends TimeoutError {
  /** The address connected to, as `host:port` or a socket path. */
  readonly address: string
  /** The step the peer never took: `'connect'`, `'handshake'` or `'reply'`. */
  readonly stage: ConnectStage

  constructor(message: string, details: { address: string; stage: ConnectStage }, options?: MultiprocErrorOptions) {
    super(message, options)
    this.address = details.address
    this.stage = details.stage
  }
}
Object.defineProperty(ConnectTimeoutError.prototype, 'name', { value: 'ConnectTimeoutError', writable: true, configurable: true })

// ---------------------------------------------------------------------------
// The cluster

/** A task names a module that is not on the worker's allowlist; nothing was loaded. */
export class ModuleNotAllowedError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_MODULE_NOT_ALLOWED', options)
  }
}

/** The cluster cannot take or finish work: the server is unreachable, the stream is gone, a task was delivered too often. */
export class ClusterError extends MultiprocError {
  constructor(message: string, options?: MultiprocErrorOptions) {
    super(message, 'ERR_MP_CLUSTER', options)
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
  [PayloadTooLargeError, 'PayloadTooLargeError'],
  [RemoteError, 'RemoteError'],
  [TaskNotFoundError, 'TaskNotFoundError'],
  [Empty, 'Empty'],
  [Full, 'Full'],
  [QueueClosedError, 'QueueClosedError'],
  [NotHeldError, 'NotHeldError'],
  [TooManyReleasesError, 'TooManyReleasesError'],
  [BrokenBarrierError, 'BrokenBarrierError'],
  [UnsupportedBackendError, 'UnsupportedBackendError'],
  [ConnectionClosedError, 'ConnectionClosedError'],
  [EOFError, 'EOFError'],
  [AuthenticationError, 'AuthenticationError'],
  [BufferTooShortError, 'BufferTooShortError'],
  [ModuleNotAllowedError, 'ModuleNotAllowedError'],
  [ClusterError, 'ClusterError'],
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

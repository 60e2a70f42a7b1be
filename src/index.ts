// multiproc: Python's multiprocessing and concurrent.futures for TypeScript on Node.js.
export { Future, type FutureState, type WaitOptions, type DoneCallback } from './futures/future.js'
export {
  wait,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ALL_COMPLETED,
  type ReturnWhen,
  type WaitForOptions,
  type DoneAndNotDone,
  type AsCompletedOptions,
  type Completed,
} from './futures/wait.js'
export { Executor, type SubmitOptions, type MapOptions, type ShutdownOptions, type AnyIterable } from './futures/executor.js'
export { TaskExecutor } from './futures/task_executor.js'
export type { ExecutorStats } from './futures/stats.js'
export type { RetryOn, RetryBackoff, ErrorClass } from './futures/retry_policy.js'
export type { WaitForRoomOptions } from './futures/queue_bound.js'
export type { ExecutorState, WorkerStats } from './futures/scheduler.js'
export type { HistogramSnapshot, HistogramBucket } from './futures/stats.js'
export { PoolExecutor, type PoolExecutorOptions } from './futures/pool_executor.js'
export { ThreadPoolExecutor, type ThreadPoolExecutorOptions } from './futures/thread_pool_executor.js'
export { InlineExecutor, type InlineExecutorOptions } from './futures/inline_executor.js'
export { ProcessPoolExecutor, type ProcessPoolExecutorOptions } from './futures/process_pool_executor.js'
export { Pool, defaultChunksize, type PoolOptions, type ApplyAsyncOptions, type PoolMapOptions, type PoolMapAsyncOptions, type PoolImapOptions } from './pool.js'
export { AsyncResult, type AsyncResultWaitOptions } from './async_result.js'
export { Context, getContext, getAllStartMethods, type StartMethod, type ContextPool, type ContextExecutor } from './context.js'
export { task, tasks, isTaskRef, type Task, type TaskRef, type TaskRefs, type TaskFunction, type TaskArgs, type TaskResult } from './task_ref.js'
export { transfer, type Transfer } from './wire/transfer.js'
export { progress } from './task.js'
export { ProgressBar, progressBar, type ProgressBarOptions, type ProgressState } from './progress_bar.js'
export { registerError } from './wire/remote_error.js'
export { cpuCount, cpuInfo, type CpuInfo, type CgroupQuota, type CpuLimitSource } from './cpu_count.js'
export {
  MultiprocError,
  CancelledError,
  TimeoutError,
  InvalidStateError,
  BrokenExecutorError,
  WorkerCrashedError,
  SerializationError,
  PayloadTooLargeError,
  RemoteError,
  TaskNotFoundError,
  TaskImportError,
  Empty,
  Full,
  QueueClosedError,
  NotHeldError,
  TooManyReleasesError,
  BrokenBarrierError,
  UnsupportedBackendError,
  ConnectionClosedError,
  EOFError,
  AuthenticationError,
  ConnectTimeoutError,
  type ConnectStage,
  BufferTooShortError,
  ModuleNotAllowedError,
  ClusterError,
  type WorkerCrashInfo,
} from './errors.js'
export { SharedMemory, type SharedMemoryOptions, type SharedMemoryBackend } from './shared_memory/shared_memory.js'
export { ShareableList, type ShareableItem, type ShareableListOptions } from './shared_memory/shareable_list.js'
export { Listener, type ListenerOptions, type HandshakeCounts } from './connection/listener.js'
export { Client, type ClientOptions } from './connection/client.js'
export { SocketConnection } from './connection/socket_connection.js'
export { type Address, type TcpAddress } from './connection/address.js'
export { Manager, type ManagerOptions, type ManagerConnectOptions, type ManagerState } from './manager/manager.js'
export {
  BaseProxy,
  DictProxy,
  ListProxy,
  NamespaceProxy,
  QueueProxy,
  LockProxy,
  EventProxy,
  ValueProxy,
  type AutoProxy,
  type ProxyToken,
  type BlockingOptions,
} from './manager/proxies.js'
export { NatsExecutor, type NatsExecutorOptions, type NatsExecutorStats } from './backends/nats/nats_executor.js'
export { NatsWorker, type NatsWorkerOptions } from './backends/nats/nats_worker.js'
export type { WorkerMetricsOptions } from './backends/nats/worker_metrics.js'
export type { NatsConnectionOptions } from './backends/nats/nats_options.js'
export type { PoolBackend } from './pool.js'
export type { Capabilities } from './backends/capabilities.js'
export { Process, type ProcessOptions } from './process.js'
export { currentProcess, parentProcess, activeChildren, type ProcessInfo } from './process_info.js'
export { type ContextProcess, type ContextValue, type ContextArray } from './context_primitives.js'
export { Queue, type QueueOptions, type PutOptions, type GetOptions } from './queues/queue.js'
export { JoinableQueue } from './queues/joinable_queue.js'
export { SimpleQueue } from './queues/simple_queue.js'
export { Lock } from './sync/lock.js'
export { RLock } from './sync/rlock.js'
export { Semaphore, BoundedSemaphore } from './sync/semaphore.js'
export { Condition } from './sync/condition.js'
export { Event } from './sync/event.js'
export { Barrier, type BarrierOptions } from './sync/barrier.js'
export { type AcquireOptions, type TimeoutOptions, type Held } from './sync/acquire_options.js'
export { Value, SharedArray, SharedArray as Array, RawValue, RawArray, type CType, type TypeCode, type ElementOf, type SharedOptions } from './sharedctypes.js'
export { Pipe, type PipeOptions } from './connection/pipe.js'
export { Connection } from './connection/connection.js'
export { wait as waitConnections } from './connection/wait.js'

/**
 * What an executor's workers can do, as flags: code outside `backends/`
 * asks these questions instead of comparing backend names, so a new
 * backend states what it can do in one place and everything else follows.
 */
export interface Capabilities {
  /** Workers run on the caller's machine: a Lock, Queue, Pipe, Manager or shared memory made here reaches them. */
  readonly sameMachine: boolean
  /** Workers are separate from the caller: a crash or `process.exit` in a task cannot hurt it. */
  readonly isolated: boolean
  /** A running task can be stopped (its worker terminated) without waiting for it. */
  readonly preemptive: boolean
  /** SharedArrayBuffers reach workers as the same memory (false: they could only be copied, so they are refused). */
  readonly sharedMemory: boolean
  /** Each worker is an OS process of its own: its own pid, and signals reach it. */
  readonly ownProcess: boolean
  /** The executor starts its own workers, so `initializer`, `maxTasksPerChild`, `execArgv`, `env` and a `Process` apply. */
  readonly ownWorkers: boolean
  /**
   * `future.cancel()` cancels a RUNNING task too, stopping it alone (the
   * cluster: a published task may still wait in the stream, and a worker
   * stops one task without hurting others). False: as in Python, only a
   * queued task can be cancelled; `signal` and `timeout` stop running ones.
   */
  readonly cancelsRunning: boolean
}

/**
 * What the cluster's workers can do. A module of its own so that code asking
 * about the cluster (a context's capability table, the cluster scheduler)
 * does not load the NATS client to learn it.
 */
import type { Capabilities } from '../capabilities.js'

/** The workers of a NATS JetStream cluster (`multiproc worker`). */
export const CLUSTER_CAPABILITIES: Capabilities = Object.freeze({
  // Other machines: nothing made here (a Lock, a Queue, shared memory, a Unix socket) reaches them.
  sameMachine: false,
  isolated: true,
  // A running task is stopped by a cancel broadcast: its worker process ends it.
  preemptive: true,
  sharedMemory: false,
  ownProcess: true,
  // The workers are started by `multiproc worker`, not by the executor: no initializer, no Process.
  ownWorkers: false,
  // A published task may still wait in the stream; a worker drops or stops it alone.
  cancelsRunning: true,
})

/**
 * What every shared primitive (locks, events, barriers, queues) has in
 * common: Int32 state cells in a SharedArrayBuffer (see monitor.ts), and the
 * way it travels to workers (wire/shareable.ts):
 *
 *   to a thread (or inline):   the SharedArrayBuffer itself: the twin works on the same memory
 *   to a child process:        an id with the broker (sync/broker.ts): the twin is "remote"
 *   anywhere else (a cluster): UnsupportedBackendError, at submit time
 *
 * A remote twin has no cells; each class sends its operations through
 * `call`/`cast`, and the parent runs them in `[kBrokerCall]` on behalf of the
 * child (`owner` = -pid, see monitor.selfOwner).
 */
import { UnsupportedBackendError } from '../errors.js'
import { kShare, targetName, type ShareDescriptor, type ShareTarget } from '../wire/shareable.js'
import { brokerId, kBrokerCall, type Brokered } from './broker.js'
import { remoteCall, remoteCast } from './broker_client.js'

/** What a primitive's descriptor carries. */
export interface PrimitiveData {
  /** The state, for threads. */
  s?: SharedArrayBuffer
  /** The broker id, for child processes. */
  b?: number
  /** Class-specific constants (a queue's maxsize, a barrier's parties...). */
  x?: unknown
}

let reviving: { cells: Int32Array | null; remote: number | null; extra: unknown } | null = null

/**
 * Remote twins by broker id: one object per parent object in a child, so
 * that what a twin tracks locally (how often this process holds a lock) is
 * the same however many times, and inside whatever, it arrived.
 */
const remoteTwins = new Map<number, unknown>()

/** Builds a twin of class `ctor` from a descriptor's data, without running its validation or initial state. */
export function reviveAs<T>(ctor: new () => T, data: PrimitiveData): T {
  if (data.b !== undefined) {
    const known = remoteTwins.get(data.b)
    if (known instanceof ctor) return known
  }
  reviving = { cells: data.s !== undefined ? new Int32Array(data.s) : null, remote: data.b ?? null, extra: data.x }
  try {
    const twin = new ctor()
    if (data.b !== undefined) remoteTwins.set(data.b, twin)
    return twin
  } finally {
    reviving = null
  }
}

export abstract class Primitive implements Brokered {
  /** The state cells (empty in a remote twin). */
  protected readonly cells: Int32Array
  /** The broker id when this is a remote twin in a child process, else null. */
  protected readonly remote: number | null
  /** False in a twin: the state exists already and must not be initialised. */
  protected readonly fresh: boolean
  /** A twin's class-specific constants (see `shareExtra`). */
  protected readonly revivedExtra: unknown

  protected constructor(cellCount: number) {
    const r = reviving
    reviving = null
    this.fresh = r === null
    this.remote = r?.remote ?? null
    this.cells = r === null ? new Int32Array(new SharedArrayBuffer(4 * cellCount)) : (r.cells ?? new Int32Array(0))
    this.revivedExtra = r?.extra
  }

  /** The registered type name and the module that registers its reviver. */
  protected abstract get shareInfo(): { type: string; module: string }

  /** Constants a twin needs besides the cells. */
  protected shareExtra(_target: ShareTarget): unknown {
    return undefined
  }

  /** @internal How the object travels to a worker. */
  [kShare](target: ShareTarget): ShareDescriptor {
    const { type, module } = this.shareInfo
    const name = type.replace(/^multiproc\./, '')
    let data: PrimitiveData
    if (this.remote !== null) {
      // The IPC channel to the owner is this thread's: only a worker that is
      // not isolated from the caller (it runs in the caller's thread) may use it too.
      if (target.isolated) {
        throw new UnsupportedBackendError(`A ${name} received from a parent process cannot be passed on to a ${targetName(target)} worker; create it in the process that starts the workers`)
      }
      data = { b: this.remote, x: this.shareExtra(target) }
    } else if (target.sharedMemory) {
      data = { s: this.cells.buffer as SharedArrayBuffer, x: this.shareExtra(target) }
    } else if (target.sameMachine && target.ownProcess && target.ownWorkers) {
      // This process's own child processes: they reach the cells through it as broker.
      data = { b: brokerId(this), x: this.shareExtra(target) }
    } else {
      throw new UnsupportedBackendError(
        `A ${name} cannot be passed to the ${targetName(target)} backend: it lives in this machine's memory and the ${targetName(target)} workers cannot reach it`,
      )
    }
    return { $: 'mp-share', module, type, data }
  }

  /** @internal Whether this is a remote twin (in a child process). */
  isRemoteTwin(): boolean {
    return this.remote !== null
  }

  /** @internal Runs an operation for a child process (see broker.ts). */
  abstract [kBrokerCall](method: string, args: unknown[], owner: number): unknown

  /** Sends an operation to the parent (remote twins only). */
  protected call(method: string, args: unknown[] = []): Promise<unknown> {
    return remoteCall(this.remote!, method, args)
  }

  protected cast(method: string, args: unknown[] = []): void {
    remoteCast(this.remote!, method, args)
  }

  /**
   * The typed error for reading changing state (`locked()`, `getValue()`,
   * `isSet()`, `nWaiting`, `broken`) in a remote twin: the state lives in the
   * parent and a synchronous read cannot wait for its answer. Constants
   * (`Barrier.parties`) travel with the twin and are readable anywhere.
   */
  protected notReadableRemote(what: string): UnsupportedBackendError {
    return new UnsupportedBackendError(
      `${what} cannot be read in a child process: the object lives in the parent and its state changes there; ` +
        'read it in the parent, or have the child report what it did (through a Queue or a Value)',
    )
  }

  /** The typed error for a synchronous operation a remote twin cannot do. */
  protected notRemote(what: string): UnsupportedBackendError {
    return new UnsupportedBackendError(
      `${what} cannot be called in a child process: the object lives in the parent and every operation is a message to it; use the async form (await ...)`,
    )
  }
}

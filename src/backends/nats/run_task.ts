/**
 * Runs one cluster task inside a worker thread of a NatsWorker.
 *
 * The worker's local ThreadPoolExecutor calls `runTask` with the task's
 * module and export name (already checked against the allowlist by the
 * worker). Errors are serialized here, in the thread where they were
 * thrown, and travel to the caller as they are: one hop, so nothing of
 * them (class, properties, cause) is lost on the way through the worker.
 * A result that cannot be cloned fails the task with SerializationError
 * (the thread runtime checks it when it sends the outcome).
 */
import { TaskNotFoundError, taskImportError } from '../../errors.js'
import { isTransfer, transfer, type Transferable } from '../../wire/codec.js'
import { serializeError, type SerializedValue } from '../../wire/remote_error.js'
import { resolveModule } from '../../wire/library_module.js'
import { reviveShareables } from '../../wire/shareable.js'
import { UNIT_CHUNK, type ChunkWireOutcome } from './protocol.js'

type Loaded = (...args: unknown[]) => unknown

/** What runTask returns: ok with a value (or a chunk outcome), or a serialized error. */
export type RunOutcome = { ok: true; v: unknown; ms: number } | { ok: false; e: SerializedValue; ms: number }

const loaded = new Map<string, Loaded>()

async function load(module: string, name: string): Promise<Loaded> {
  const key = `${module}#${name}`
  const cached = loaded.get(key)
  if (cached !== undefined) return cached
  let ns: Record<string, unknown>
  try {
    ns = (await import(resolveModule(module))) as Record<string, unknown>
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    if (err?.code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(module)) {
      err.message += '. The task module is TypeScript: start the worker under tsx (`node --import tsx ...`)'
    }
    throw taskImportError(module, error)
  }
  const fn = ns[name]
  if (typeof fn !== 'function') {
    const exported = Object.keys(ns).filter((k) => typeof ns[k] === 'function')
    throw new TaskNotFoundError(
      fn === undefined
        ? `Module ${module} has no export named \`${name}\` (its exported functions: ${exported.join(', ') || 'none'})`
        : `Export \`${name}\` of module ${module} is not a function but ${typeof fn}`,
    )
  }
  loaded.set(key, fn as Loaded)
  return fn as Loaded
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

export async function runTask(module: string, name: string, kind: number, args: unknown[], shared: boolean): Promise<unknown> {
  const t0 = performance.now()
  const moved: Transferable[] = []
  const unwrap = (value: unknown): unknown => {
    if (!isTransfer(value)) return value
    for (const item of value.transferList) moved.push(item)
    return value.value
  }
  let outcome: RunOutcome
  try {
    const fn = await load(module, name)
    if (shared) args = (await reviveShareables(args, { backend: 'nats' })) as unknown[]
    if (kind === UNIT_CHUNK) {
      const chunk: ChunkWireOutcome = { v: new Array(args.length), e: undefined, d: 0 }
      for (let i = 0; i < args.length; i++) {
        try {
          let value = fn(...(args[i] as unknown[]))
          if (isThenable(value)) value = await value
          chunk.v[i] = unwrap(value)
        } catch (error) {
          chunk.v[i] = undefined
          ;(chunk.e ??= []).push([i, serializeError(error)])
        }
      }
      chunk.d = performance.now() - t0
      outcome = { ok: true, v: chunk, ms: chunk.d / Math.max(1, args.length) }
    } else {
      let value = fn(...args)
      if (isThenable(value)) value = await value
      outcome = { ok: true, v: unwrap(value), ms: performance.now() - t0 }
    }
  } catch (error) {
    outcome = { ok: false, e: serializeError(error), ms: performance.now() - t0 }
  }
  return moved.length > 0 ? transfer(outcome, moved) : outcome
}

/** Does nothing: the worker runs it once per thread at start, so every thread is up before tasks come. */
export function warmUp(): boolean {
  return true
}

/**
 * Runs the tasks of one message in order, in this thread: a burst of tiny
 * tasks costs one hop to a thread instead of one each. Returns an outcome
 * per task (units: module, name, kind, args, shared).
 */
export async function runBatch(units: [string, string, number, unknown[], boolean][]): Promise<unknown> {
  const outcomes: RunOutcome[] = new Array(units.length)
  const moved: Transferable[] = []
  for (let i = 0; i < units.length; i++) {
    const [m, n, k, a, sh] = units[i]!
    let out = await runTask(m, n, k, a, sh)
    if (isTransfer(out)) {
      for (const item of out.transferList) moved.push(item)
      out = out.value
    }
    outcomes[i] = out as RunOutcome
  }
  return moved.length > 0 ? transfer(outcomes, moved) : outcomes
}

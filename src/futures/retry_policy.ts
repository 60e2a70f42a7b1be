/**
 * `retryOn`: which errors thrown by a task are worth another run, and how
 * long to wait before it. A crashed worker is always worth one (under
 * `retries`, at once); an error the task threw is retried only when the
 * user named it, because most errors are bugs and running a bug again only
 * repeats it. The budget is the task's `retries`, shared by both causes,
 * as Ray's `max_retries` is with `retry_exceptions`.
 *
 * The waits grow exponentially (`initial × factor^(n-1)`, capped at `max`)
 * with jitter, so a flaky dependency that fails many tasks at once is not
 * hammered by all of them again at the same instant.
 */
import { invalidArgType, invalidArgValue, isRemoteError } from '../errors.js'
import { boolean, knownKeys, plainObject, rangeFail, timeoutMs, typeFail } from '../internal/validate.js'

import type { ErrorClass } from '../wire/remote_error.js'

export type { ErrorClass }

/**
 * Which errors thrown by a task run it again: error classes (matched with
 * `instanceof`, or by class name when the error was rebuilt as a
 * `RemoteError` because the caller never registered it), error names or
 * codes (`'ECONNRESET'`), or a predicate of the rebuilt error and the number
 * of the run that threw it (1 for the first).
 */
export type RetryOn = readonly (ErrorClass | string)[] | ((error: unknown, attempt: number) => boolean)

/** How long to wait before a run again under `retryOn` (crashed workers are retried at once). */
export interface RetryBackoff {
  /** Milliseconds before the first run again. Default 100. */
  initial?: number
  /** Each wait is this many times the previous one. Default 2. */
  factor?: number
  /** The longest wait, in ms. Default 10000. */
  max?: number
  /** Wait a random 50-100 % of the computed time, so many failed tasks do not come back at once. Default true. */
  jitter?: boolean
}

const BACKOFF_KEYS = ['initial', 'factor', 'max', 'jitter'] as const

/** A checked `retryOn` with its backoff. */
export class RetryPolicy {
  readonly #classes: ErrorClass[] = []
  readonly #names: string[] = []
  readonly #predicate: ((error: unknown, attempt: number) => boolean) | undefined
  readonly #initial: number
  readonly #factor: number
  readonly #max: number
  readonly #jitter: boolean

  private constructor(retryOn: RetryOn, backoff: Record<string, unknown>) {
    if (typeof retryOn === 'function') this.#predicate = retryOn
    else {
      for (const entry of retryOn) {
        if (typeof entry === 'string') this.#names.push(entry)
        else this.#classes.push(entry)
      }
    }
    this.#initial = backoff.initial === undefined ? 100 : timeoutMs('retryBackoff.initial', backoff.initial, false)
    this.#factor = backoff.factor === undefined ? 2 : factorOf(backoff.factor)
    this.#max = backoff.max === undefined ? 10_000 : timeoutMs('retryBackoff.max', backoff.max, false)
    this.#jitter = backoff.jitter === undefined ? true : boolean('retryBackoff.jitter', backoff.jitter)
  }

  /**
   * Checks `retryOn` and `retryBackoff` as a user gave them (`where` names
   * the call in errors); null when `retryOn` is absent. A backoff without a
   * `retryOn` has nothing to pace, and is refused rather than ignored.
   */
  static from(retryOn: unknown, retryBackoff: unknown, where: string): RetryPolicy | null {
    if (retryOn === undefined) {
      if (retryBackoff !== undefined) throw invalidArgType(`${where}: \`retryBackoff\` paces the runs again of \`retryOn\`; give \`retryOn\` too`)
      return null
    }
    if (typeof retryOn !== 'function') {
      if (!Array.isArray(retryOn)) typeFail('retryOn', 'an array of error classes or names, or a function (error, attempt) => boolean', retryOn)
      retryOn.forEach((entry: unknown, i) => {
        const ok = (typeof entry === 'string' && entry.length > 0) || (typeof entry === 'function' && (entry === Error || entry.prototype instanceof Error))
        if (!ok) typeFail(`retryOn[${i}]`, 'an Error class (such as TypeError or a class extending Error) or a non-empty error name or code', entry)
      })
    }
    let backoff: Record<string, unknown> = {}
    if (retryBackoff !== undefined) {
      backoff = plainObject('retryBackoff', retryBackoff)
      knownKeys(`${where} retryBackoff`, backoff, BACKOFF_KEYS)
    }
    return new RetryPolicy(retryOn as RetryOn, backoff)
  }

  /**
   * `retryOn` runs a task again within `retries`: with none, it could never
   * act, which is a mistake worth saying rather than ignoring.
   */
  static needsRetries(retries: number, where: string): void {
    if (retries === 0) throw invalidArgValue(`${where}: \`retryOn\` runs a task again within \`retries\`, which is 0; give \`retries\` too, e.g. { retries: 3, retryOn: [...] }`)
  }

  /** Whether `error`, thrown by run number `attempt` (1 for the first), is worth another run. */
  matches(error: unknown, attempt: number): boolean {
    if (this.#predicate !== undefined) {
      try {
        return this.#predicate(error, attempt) === true
      } catch (thrown) {
        const detail = thrown instanceof Error ? (thrown.stack ?? String(thrown)) : String(thrown)
        process.emitWarning(`A retryOn function threw (the task is not run again): ${detail}`, { type: 'MultiprocWarning', code: 'MP_RETRY_ON' })
        return false
      }
    }
    if (error === null || typeof error !== 'object') return false
    for (const cls of this.#classes) {
      if (error instanceof cls) return true
      // A class the caller never registered comes back as a RemoteError under the original name.
      if (isRemoteError(error) && error.remoteName === cls.name) return true
    }
    if (this.#names.length > 0) {
      const { name, code } = error as { name?: unknown; code?: unknown }
      const remoteName = (error as { remoteName?: unknown }).remoteName
      for (const wanted of this.#names) if (name === wanted || code === wanted || remoteName === wanted) return true
    }
    return false
  }

  /** Milliseconds to wait before run number `attempt + 1`, after run `attempt` threw. */
  delay(attempt: number): number {
    const wait = Math.min(this.#max, this.#initial * this.#factor ** (attempt - 1))
    return this.#jitter ? wait * (0.5 + Math.random() * 0.5) : wait
  }
}

function factorOf(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) typeFail('retryBackoff.factor', 'a number ≥ 1', value)
  if (value < 1 || !Number.isFinite(value)) rangeFail('retryBackoff.factor', 'a finite number ≥ 1', value)
  return value
}

/**
 * A one-line terminal progress bar: items done, items/s, ETA (when the total
 * is known), failures, and, given an executor's stats, its p99 task time and
 * how many workers are busy. Redrawn at most ten times a second by an
 * unref'd timer, so it never keeps the program alive; `multiproc map
 * --progress` draws the same bar.
 *
 * Hand-written rather than a progress-bar package: the core has no runtime
 * dependency, and the bar is one line of text (progressLine) plus a timer.
 *
 *   for await (const y of progressBar(pool.imap(score, items), { total: items.length })) use(y)
 */
import type { WriteStream } from 'node:tty'
import type { AnyIterable } from './futures/executor.js'
import type { ExecutorStats } from './futures/stats.js'
import { boolean, func, knownKeys, plainObject, typeFail } from './internal/validate.js'

/** What a bar shows; `fraction` is NaN when the total is unknown. */
export interface ProgressState {
  /** Items done, failed ones included. */
  items: number
  /** Items failed. */
  failed: number
  /** Fraction done, 0..1, or NaN when the total is unknown. */
  fraction: number
}

/** Options of `new ProgressBar()` and `progressBar()`. */
export interface ProgressBarOptions {
  /** Items expected: the bar then shows a percentage and an ETA. */
  total?: number
  /** What the items are called: `'items'` by default (`'lines'`, `'files'`...). */
  unit?: string
  /** Where it is drawn. Default `process.stderr`. */
  stream?: NodeJS.WritableStream
  /** Draw at all. Default: when `stream` is a terminal, so piped output stays clean. */
  enabled?: boolean
  /** An executor's (or pool's) `stats`, to show its p99 task time and busy workers: `() => pool.stats()`. */
  stats?: () => ExecutorStats
  /** Reads the state at each redraw instead of counting `tick()`s (how `multiproc map` reports bytes read). */
  state?: () => ProgressState
}

const BAR = 24
const KEYS = ['total', 'unit', 'stream', 'enabled', 'stats', 'state'] as const

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`
}

/**
 * The text of the bar, without the carriage return. `busy` is the workers
 * busy since the last redraw (a sum of shares), `p99` the task time.
 */
export function progressLine(state: ProgressState, elapsedMs: number, unit: string, executor?: { p99: number; busy: number; workers: number }): string {
  const rate = elapsedMs > 0 ? state.items / (elapsedMs / 1000) : 0
  const parts: string[] = []
  if (Number.isFinite(state.fraction)) {
    const f = Math.min(1, Math.max(0, state.fraction))
    const full = Math.round(f * BAR)
    parts.push(`[${'#'.repeat(full)}${'.'.repeat(BAR - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`)
  }
  parts.push(`${formatCount(state.items)} ${unit}`, `${formatCount(rate)} ${unit}/s`)
  if (Number.isFinite(state.fraction) && state.fraction > 0) {
    const eta = ((elapsedMs / 1000) * (1 - state.fraction)) / state.fraction
    parts.push(`ETA ${formatDuration(eta)}`)
  } else {
    parts.push(`elapsed ${formatDuration(elapsedMs / 1000)}`)
  }
  if (state.failed > 0) parts.push(`${formatCount(state.failed)} failed`)
  if (executor !== undefined) {
    if (executor.p99 > 0) parts.push(`p99 task ${formatMs(executor.p99)}`)
    parts.push(`${executor.busy.toFixed(1)}/${executor.workers} busy`)
  }
  return parts.join('  ')
}

/**
 * A progress bar you drive: `tick()` per item done (`fail()` per item
 * failed), `stop()` at the end. Draws nothing unless `enabled` (default:
 * the stream is a terminal).
 *
 * @example
 * const bar = new ProgressBar({ total: files.length, unit: 'files', stats: () => pool.stats() })
 * for await (const r of pool.imapUnordered(compress, files)) bar.tick()
 * bar.stop()
 */
export class ProgressBar {
  readonly #stream: NodeJS.WritableStream
  readonly #unit: string
  readonly #total: number
  readonly #stats: (() => ExecutorStats) | undefined
  readonly #state: (() => ProgressState) | undefined
  readonly #start = performance.now()
  readonly #timer: NodeJS.Timeout | undefined
  #items = 0
  #failed = 0
  #drawn = false
  #stopped = false

  constructor(options: ProgressBarOptions = {}) {
    const opts = plainObject('options', options)
    knownKeys('ProgressBar', opts, KEYS)
    this.#stream = opts.stream === undefined ? process.stderr : (opts.stream as NodeJS.WritableStream)
    if (typeof (this.#stream as NodeJS.WritableStream).write !== 'function') typeFail('stream', 'a writable stream', opts.stream)
    if (opts.total !== undefined && !(typeof opts.total === 'number' && opts.total >= 0 && Number.isFinite(opts.total))) typeFail('total', 'a finite number ≥ 0', opts.total)
    this.#total = (opts.total as number | undefined) ?? NaN
    if (opts.unit !== undefined && typeof opts.unit !== 'string') typeFail('unit', 'a string', opts.unit)
    this.#unit = (opts.unit as string | undefined) ?? 'items'
    this.#stats = opts.stats === undefined ? undefined : (func('stats', opts.stats) as () => ExecutorStats)
    this.#state = opts.state === undefined ? undefined : (func('state', opts.state) as () => ProgressState)
    const enabled = opts.enabled === undefined ? (this.#stream as WriteStream).isTTY === true : boolean('enabled', opts.enabled)
    if (enabled) {
      this.#timer = setInterval(() => this.draw(), 100)
      this.#timer.unref()
    }
  }

  /** Counts `n` items done (default 1). */
  tick(n = 1): void {
    this.#items += n
  }

  /** Sets the number of items done (a task's own count, heard through `onProgress`). */
  set(items: number): void {
    if (typeof items !== 'number' || !(items >= 0)) typeFail('items', 'a number ≥ 0', items)
    this.#items = items
  }

  /** Counts `n` items failed (default 1); they count as done too. */
  fail(n = 1): void {
    this.#items += n
    this.#failed += n
  }

  /** The state drawn now. */
  get state(): ProgressState {
    if (this.#state !== undefined) return this.#state()
    return { items: this.#items, failed: this.#failed, fraction: this.#total > 0 ? this.#items / this.#total : this.#total === 0 ? 1 : NaN }
  }

  /** Draws the bar now (the timer does it ten times a second). */
  draw(): void {
    if (this.#timer === undefined) return
    let executor: { p99: number; busy: number; workers: number } | undefined
    if (this.#stats !== undefined) {
      const s = this.#stats()
      executor = { p99: s.runTime.p99, busy: s.perWorker.reduce((sum, w) => sum + w.busy, 0), workers: Math.max(s.workers, s.perWorker.length) }
    }
    const columns = (this.#stream as WriteStream).columns ?? 100
    const line = progressLine(this.state, performance.now() - this.#start, this.#unit, executor).slice(0, Math.max(20, columns - 1))
    this.#stream.write(`\r${line}\x1b[K`)
    this.#drawn = true
  }

  /** Draws the final state and moves to a new line. Calling it again does nothing. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    if (this.#drawn || this.state.items > 0) {
      this.draw()
      this.#stream.write('\n')
    }
  }
}

/**
 * Passes the values of `source` through while a progress bar counts them
 * (one item per value), and stops the bar when the iteration ends, however
 * it ends. A value that is an Error counts as failed.
 *
 * @example
 * for await (const y of progressBar(pool.imap(parse, lines), { total: lines.length, unit: 'lines' })) out.push(y)
 */
export function progressBar<T>(source: AnyIterable<T>, options: ProgressBarOptions = {}): AsyncGenerator<T, void, undefined> {
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source || Symbol.iterator in source)) typeFail('source', 'an iterable or async iterable', source)
  // Options are checked now, not at the first next().
  return counted(source, new ProgressBar(options))
}

async function* counted<T>(source: AnyIterable<T>, bar: ProgressBar): AsyncGenerator<T, void, undefined> {
  try {
    for await (const value of source) {
      if (value instanceof Error) bar.fail()
      else bar.tick()
      yield value
    }
  } finally {
    bar.stop()
  }
}

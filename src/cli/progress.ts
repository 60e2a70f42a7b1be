/**
 * A one-line progress bar on stderr: items done, items/s, ETA (when the
 * input's size is known), failures. Redrawn at most ten times a second by
 * an unref'd timer, so it never keeps the program alive.
 */
import type { WriteStream } from 'node:tty'

export interface ProgressState {
  items: number
  failed: number
  /** Fraction of the input consumed, 0..1, or NaN when the size is unknown. */
  fraction: number
}

const BAR = 24

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

/** The text of the bar, without the carriage return. */
export function progressLine(state: ProgressState, elapsedMs: number, unit: string): string {
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
  return parts.join('  ')
}

export class Progress {
  readonly #stream: NodeJS.WritableStream
  readonly #columns: () => number
  readonly #state: () => ProgressState
  readonly #unit: string
  readonly #start = performance.now()
  readonly #timer: NodeJS.Timeout
  #drawn = false

  constructor(stream: NodeJS.WritableStream, state: () => ProgressState, unit = 'lines') {
    this.#stream = stream
    this.#state = state
    this.#unit = unit
    this.#columns = () => (stream as WriteStream).columns ?? 100
    this.#timer = setInterval(() => this.draw(), 100)
    this.#timer.unref()
  }

  draw(): void {
    const line = progressLine(this.#state(), performance.now() - this.#start, this.#unit).slice(0, Math.max(20, this.#columns() - 1))
    this.#stream.write(`\r${line}\x1b[K`)
    this.#drawn = true
  }

  /** Draws the final state and moves to a new line. */
  stop(): void {
    clearInterval(this.#timer)
    if (this.#drawn || this.#state().items > 0) {
      this.draw()
      this.#stream.write('\n')
    }
  }
}

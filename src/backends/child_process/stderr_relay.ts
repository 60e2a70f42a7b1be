/**
 * A child-process worker's stderr, relayed to the caller's `process.stderr`
 * line by line, and its last lines kept for the crash report.
 *
 * Why relay instead of sharing the file descriptor (stdout is shared): a
 * worker that dies in native code (out of memory, an abort) says why only
 * on stderr, and the caller needs that to tell the user what happened.
 * Whole lines only, so the lines of several workers never mix mid-line.
 */
import type { Readable } from 'node:stream'

const TAIL_BYTES = 4096
/** A line longer than this is passed on in pieces (a progress bar that never ends its line). */
const MAX_PARTIAL = 16384

export class StderrRelay {
  readonly #stream: Readable
  #partial = ''
  #tail = ''
  #ended = false
  #onEnd: (() => void) | null = null

  constructor(stream: Readable) {
    this.#stream = stream
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => this.#write(chunk))
    stream.on('error', () => {})
    stream.once('close', () => this.#end())
  }

  /** The last few kilobytes the worker wrote to stderr. */
  get tail(): string {
    return this.#tail
  }

  ref(): void {
    ;(this.#stream as Readable & { ref?: () => void }).ref?.()
  }

  unref(): void {
    ;(this.#stream as Readable & { unref?: () => void }).unref?.()
  }

  /**
   * Calls `fn` once the stream has ended, or after `maxMs` (a grandchild
   * process may hold the pipe open long after the worker died).
   */
  whenEnded(maxMs: number, fn: () => void): void {
    if (this.#ended) {
      fn()
      return
    }
    const timer = setTimeout(() => {
      this.#end()
      this.#stream.destroy()
    }, maxMs)
    this.#onEnd = () => {
      clearTimeout(timer)
      fn()
    }
  }

  #write(chunk: string): void {
    this.#tail = (this.#tail + chunk).slice(-TAIL_BYTES)
    const text = this.#partial + chunk
    const last = text.lastIndexOf('\n')
    if (last < 0) {
      if (text.length > MAX_PARTIAL) {
        process.stderr.write(text)
        this.#partial = ''
      } else {
        this.#partial = text
      }
      return
    }
    this.#partial = text.slice(last + 1)
    process.stderr.write(text.slice(0, last + 1))
  }

  #end(): void {
    if (this.#ended) return
    this.#ended = true
    if (this.#partial !== '') {
      process.stderr.write(`${this.#partial}\n`)
      this.#partial = ''
    }
    const fn = this.#onEnd
    this.#onEnd = null
    fn?.()
  }
}

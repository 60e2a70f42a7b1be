/**
 * Input lines in batches, read as the consumer asks.
 *
 * Memory stays bounded whatever the input size: the stream is read only
 * when a batch is asked for (the executor's window asks at most a fixed
 * number of batches ahead), a batch holds at most `size()` lines and about
 * `maxBytes` bytes, and the stream's own buffer is bounded by its high
 * water mark. A partial batch is handed out as soon as the stream has
 * nothing more buffered, so lines arriving slowly on a pipe are processed
 * as they come instead of waiting for a full batch.
 */
import type { Readable } from 'node:stream'

export interface LineBatch {
  /** The 1-based line number of `lines[0]`. */
  first: number
  lines: string[]
  /** The UTF-16 length of the lines, with their newlines: a measure of progress. */
  chars: number
}

export interface LineBatchesOptions {
  /** Lines per batch; asked before each batch, so it can adapt. */
  size: () => number
  /** A batch is closed when its lines reach this many characters. */
  maxChars: number
}

export async function* lineBatches(stream: Readable, options: LineBatchesOptions): AsyncGenerator<LineBatch> {
  stream.setEncoding('utf8')
  let carry = ''
  let next = 1
  let pending: string[] = []
  let pendingChars = 0
  const take = (): LineBatch => {
    const batch = { first: next, lines: pending, chars: pendingChars }
    next += pending.length
    pending = []
    pendingChars = 0
    return batch
  }
  let ended = false
  let failed: Error | null = null
  stream.once('end', () => (ended = true))
  stream.once('error', (error) => (failed = error))
  try {
    for (;;) {
      const chunk = stream.read() as string | null
      if (chunk === null) {
        const error = failed ?? stream.errored
        if (error) throw error
        // A stream destroyed without an error has nothing more to give either.
        if (ended || stream.readableEnded || stream.destroyed) break
        if (pending.length > 0) {
          // Nothing buffered: hand out what we have rather than hold it while waiting.
          yield take()
          // The consumer may hold the batch for long (its window is full): the
          // stream may have got data, ended or failed meanwhile, and those
          // events are gone. Look again before waiting for the next one.
          continue
        }
        // Only right after a read() that found nothing: the events we wait for are still to come.
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off('readable', done)
            stream.off('end', done)
            stream.off('error', done)
            stream.off('close', done)
            resolve()
          }
          stream.on('readable', done)
          stream.on('end', done)
          stream.on('error', done)
          stream.on('close', done)
        })
        continue
      }
      const text = carry === '' ? chunk : carry + chunk
      let start = 0
      for (;;) {
        const newline = text.indexOf('\n', start)
        if (newline < 0) break
        const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline
        pending.push(text.slice(start, end))
        pendingChars += newline + 1 - start
        start = newline + 1
        if (pending.length >= options.size() || pendingChars >= options.maxChars) yield take()
      }
      carry = text.slice(start)
    }
    if (carry !== '') {
      pending.push(carry.endsWith('\r') ? carry.slice(0, -1) : carry)
      pendingChars += carry.length
      carry = ''
    }
    if (pending.length > 0) yield take()
  } finally {
    if (!ended) stream.destroy()
  }
}

/**
 * Input in blocks of whole lines, as bytes: what `multiproc map` hands its
 * workers. The main thread never splits or decodes lines (workers do, see
 * line_block_task.ts); it only finds where a block may end, a newline.
 *
 *  - `fileBlocks`: a regular file is cut by offset. The main thread reads a
 *    few bytes at each nominal block end to find the next newline; workers
 *    read the bytes of their block themselves, so they cross no thread.
 *  - `streamBlocks`: stdin (or a pipe, a FIFO) is read as it comes; a block
 *    is copied into a buffer of its own (sent whole, not as a view into a
 *    larger one) and cut at its last newline. A partial block is handed out
 *    as soon as the stream has nothing more buffered, so lines arriving
 *    slowly on a pipe are processed as they come.
 *
 * Memory stays bounded: a block is read only when the consumer asks for it
 * (the executor's window asks a fixed number of blocks ahead), and a block
 * holds about `size()` bytes (more only for a single longer line).
 */
import { fstatSync, readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { Readable } from 'node:stream'

const NEWLINE = 10
/** A pause in a stream's data longer than this hands out the whole lines held. */
const IDLE_MS = 5

export interface LineBlock {
  /** Byte offset of the block in the input. */
  start: number
  /** Byte offset just past its last byte. */
  end: number
  /** The bytes (stream input), or absent when workers read them from `file`. */
  bytes?: Buffer
  /** The 1-based number of its first line, when counted (`countLines`); else known once the blocks before it are done. */
  first?: number
  /** Its number of lines, when counted. */
  lines?: number
}

export interface LineBlocksOptions {
  /** Target bytes per block; asked before each block, so it can adapt. At least one whole line is taken. */
  size: () => number
  /** Exactly this many lines per block (the last may hold fewer), instead of `size()` bytes. */
  linesPerBlock?: number
  /** Number the lines of every block (`first`, `lines`): costs a scan of each block. */
  countLines?: boolean
}

/** Lines (newlines, plus a last line without one) in `bytes`. */
export function countLines(bytes: Uint8Array): number {
  let n = 0
  let i = -1
  while ((i = bytes.indexOf(NEWLINE, i + 1)) >= 0) n++
  return bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE ? n + 1 : n
}

/** Index of the `n`th newline of `bytes` from `from` (n ≥ 1), or -1 with the count found in `found`. */
function nthNewline(bytes: Uint8Array, from: number, n: number, found: { n: number }): number {
  let i = from - 1
  while (found.n < n) {
    i = bytes.indexOf(NEWLINE, i + 1)
    if (i < 0) return -1
    found.n++
  }
  return i
}

/**
 * The blocks of a regular file, read by offset. The main thread reads only
 * PROBE bytes per block, to find its last newline, and reads them at once
 * (a page of a regular file, most likely in the page cache): a block then
 * costs the main thread microseconds, not a trip through the thread pool.
 */
export async function* fileBlocks(handle: FileHandle, options: LineBlocksOptions): AsyncGenerator<LineBlock> {
  const PROBE = 4096
  const probe = Buffer.allocUnsafe(PROBE)
  let start = 0
  for (;;) {
    // The block ends at the first newline at or after start + size - 1 (at least one line), or at the end of the file.
    let pos = start + Math.max(1, Math.floor(options.size())) - 1
    let end = -1
    for (;;) {
      const bytesRead = readSync(handle.fd, probe, 0, PROBE, pos)
      if (bytesRead === 0) break
      const i = probe.subarray(0, bytesRead).indexOf(NEWLINE)
      if (i >= 0) {
        end = pos + i + 1
        break
      }
      pos += bytesRead
    }
    if (end < 0) {
      // No newline from the nominal end to the end of the file: the rest is the last block
      // (a last line without newline), or nothing when the nominal end is past the end.
      const size = fstatSync(handle.fd).size
      if (size <= start) return
      if (pos < size) continue // the file grew meanwhile: look again
      end = size
    }
    yield { start, end }
    start = end
  }
}

/** The blocks of a stream, as buffers of their own. */
export async function* streamBlocks(stream: Readable, options: LineBlocksOptions): AsyncGenerator<LineBlock> {
  let chunks: Buffer[] = []
  let held = 0
  let offset = 0
  let nextLine = 1
  let ended = false
  let failed: Error | null = null
  stream.once('end', () => (ended = true))
  stream.once('error', (error) => (failed = error))

  /** The first `length` held bytes as a block; the rest stays held. */
  const take = (length: number): LineBlock => {
    const bytes = Buffer.allocUnsafeSlow(length)
    let copied = 0
    let i = 0
    for (; copied < length; i++) {
      const chunk = chunks[i]!
      const n = Math.min(chunk.length, length - copied)
      chunk.copy(bytes, copied, 0, n)
      copied += n
      if (n < chunk.length) {
        chunks[i] = chunk.subarray(n)
        break
      }
    }
    chunks = chunks.slice(i)
    held -= length
    const block: LineBlock = { start: offset, end: offset + length, bytes }
    offset += length
    if (options.countLines || options.linesPerBlock !== undefined) {
      block.first = nextLine
      block.lines = countLines(bytes)
      nextLine += block.lines
    }
    return block
  }

  /** Length of the next full block held (`size()` bytes or `linesPerBlock` lines, cut after a newline), or 0. */
  const full = (): number => {
    const wanted = options.linesPerBlock
    if (wanted !== undefined) {
      const found = { n: 0 }
      let base = 0
      for (const chunk of chunks) {
        const i = nthNewline(chunk, 0, wanted, found)
        if (i >= 0) return base + i + 1
        base += chunk.length
      }
      return 0
    }
    const size = Math.max(1, Math.floor(options.size()))
    if (held < size) return 0
    // The last newline before `size`, else the first one after it (a line longer than a block).
    let base = held
    for (let c = chunks.length - 1; c >= 0; c--) {
      const chunk = chunks[c]!
      base -= chunk.length
      if (base >= size) continue
      const i = chunk.lastIndexOf(NEWLINE, Math.min(chunk.length - 1, size - 1 - base))
      if (i >= 0) return base + i + 1
    }
    base = 0
    for (const chunk of chunks) {
      if (base + chunk.length > size) {
        const i = chunk.indexOf(NEWLINE, Math.max(0, size - base))
        if (i >= 0) return base + i + 1
      }
      base += chunk.length
    }
    return 0
  }

  /** Length of the whole lines held, or 0. */
  const whole = (): number => {
    let base = held
    for (let c = chunks.length - 1; c >= 0; c--) {
      const chunk = chunks[c]!
      base -= chunk.length
      const i = chunk.lastIndexOf(NEWLINE)
      if (i >= 0) return base + i + 1
    }
    return 0
  }

  /** Resolves true on new data, the end or an error of the stream; false after `ms` without any. */
  const more = (ms: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const settle = (value: boolean): void => {
        stream.off('readable', onEvent)
        stream.off('end', onEvent)
        stream.off('error', onEvent)
        stream.off('close', onEvent)
        if (timer !== undefined) clearTimeout(timer)
        resolve(value)
      }
      const onEvent = (): void => settle(true)
      const timer = ms === Infinity ? undefined : setTimeout(() => settle(false), ms)
      stream.on('readable', onEvent)
      stream.on('end', onEvent)
      stream.on('error', onEvent)
      stream.on('close', onEvent)
    })

  try {
    for (;;) {
      const chunk = stream.read() as Buffer | null
      if (chunk === null) {
        const error = failed ?? stream.errored
        if (error) throw error
        // A stream destroyed without an error has nothing more to give either.
        if (ended || stream.readableEnded || stream.destroyed) break
        // Only right after a read() that found nothing: the events we wait for are
        // still to come. Data that keeps coming fills a whole block; when it stops
        // for IDLE_MS, the whole lines held go out rather than wait (a slow pipe).
        if (whole() === 0) {
          await more(Infinity)
          continue
        }
        if (await more(IDLE_MS)) continue
        yield take(whole())
        // The consumer may hold the block for long (its window is full): the
        // stream may have got data, ended or failed meanwhile, and those
        // events are gone. Look again before waiting for the next one.
        continue
      }
      if (typeof chunk === 'string') throw new TypeError('streamBlocks reads bytes: the stream has an encoding set')
      chunks.push(chunk)
      held += chunk.length
      for (let length = full(); length > 0; length = full()) yield take(length)
    }
    while (held > 0) yield take(full() || held)
  } finally {
    if (!ended) stream.destroy()
  }
}

/**
 * The task `multiproc map` runs on a block of input bytes in a worker: it
 * reads the block (from the file by offset, or the bytes it was sent),
 * decodes and splits it into lines, runs them as a line batch (line_task.ts:
 * the user's function, --json, failures), and sends the output back as
 * UTF-8 bytes, moved rather than copied. The main thread only writes them.
 *
 * Lines are numbered from 1 within the block: the main thread knows where
 * the block starts once the blocks before it are done.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { transfer, type Transfer } from '../wire/transfer.js'
import { runLineBatch, type LineFailure } from './line_task.js'

export interface LineBlockJob {
  module: string
  name: string
  /** Lines are JSON values (JSON Lines); results are written as JSON. */
  json: boolean
  /** Stop at the first failing line (`--on-error fail`). */
  stopOnError: boolean
  /** The block's bytes, or the file to read them from at [start, end). */
  bytes?: Uint8Array
  file?: string
  /** Byte offsets of the block in the input. */
  start: number
  end: number
  /** Lines this worker runs at once at most (`--concurrent-tasks`); absent: one at a time. */
  concurrency?: number
}

export interface LineBlockResult {
  /** The block's `start`: which block this is. */
  start: number
  /** Lines handled (all of them, or up to the failing one under `stopOnError`). */
  count: number
  /** Lines in the block (handled or not). */
  lines: number
  /** The output lines, each ending with "\n", as UTF-8. */
  output: Uint8Array
  /** Failing lines, numbered from 1 within the block. */
  failures: LineFailure[] | undefined
  /** Time spent on the block, loading of the task module excepted. */
  ms: number
}

/** One open descriptor per input file for the worker's life: a block costs one read, not an open and a close. */
const files = new Map<string, number>()

function readRange(file: string, start: number, end: number): Buffer {
  let fd = files.get(file)
  if (fd === undefined) {
    fd = openSync(file, 'r')
    files.set(file, fd)
  }
  const bytes = Buffer.allocUnsafeSlow(end - start)
  let done = 0
  while (done < bytes.length) {
    const n = readSync(fd, bytes, done, bytes.length - done, start + done)
    if (n === 0) break // the file shrank: the block ends where the file does
    done += n
  }
  return done < bytes.length ? bytes.subarray(0, done) : bytes
}

/** Closes the input files of this worker (tests; a worker's exit closes them too). */
export function closeInputs(): void {
  for (const fd of files.values()) closeSync(fd)
  files.clear()
}

/**
 * The lines of a block: split at "\n", one "\r" before it dropped, and a
 * last line without newline kept unless empty, as `lineBatches` does.
 * `crlf: false` says the text holds no "\r" (a look at the bytes is far
 * cheaper than one at every line).
 */
export function splitLines(text: string, crlf = true): string[] {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  if (!crlf) return lines
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.charCodeAt(line.length - 1) === 13) lines[i] = line.slice(0, -1)
  }
  return lines
}

function encode(text: string): Uint8Array {
  // A buffer of its own (never a slice of Node's shared pool): its memory is moved to the main thread.
  const length = Buffer.byteLength(text)
  const bytes = Buffer.allocUnsafeSlow(length)
  // As many bytes as characters: all of them ASCII, which latin1 writes the same, ten times faster.
  bytes.write(text, length === text.length ? 'latin1' : 'utf8')
  return bytes
}

const loaded = new Set<string>()
const CR = 13

/** Loads the task module (and this one) in a worker before its first block; a failure to load shows on that block. */
async function load(module: string, name: string): Promise<void> {
  const key = `${module}#${name}`
  if (loaded.has(key)) return
  await runLineBatch({ module, name, json: false, stopOnError: true, first: 1, lines: [] })
  loaded.add(key)
}

/**
 * Run in each worker as soon as it starts, while the main thread still gets
 * the input ready: the worker's start and the task's import then cost no
 * block any time, and no block waits in a worker that is still starting.
 */
export async function warmLineBlock(module: string, name: string): Promise<void> {
  await load(module, name)
}

export async function runLineBlock(job: LineBlockJob): Promise<Transfer<LineBlockResult>> {
  // Loads the module outside the timed region: its import is no per-line cost.
  await load(job.module, job.name)
  const started = performance.now()
  const bytes = job.bytes ?? readRange(job.file!, job.start, job.end)
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const lines = splitLines(buffer.toString('utf8'), buffer.indexOf(CR) >= 0)
  const result = await runLineBatch({ module: job.module, name: job.name, json: job.json, stopOnError: job.stopOnError, first: 1, lines, concurrency: job.concurrency })
  const output = encode(result.text)
  const value: LineBlockResult = { start: job.start, count: result.count, lines: lines.length, output, failures: result.failures, ms: performance.now() - started }
  return transfer(value, [output.buffer as ArrayBuffer])
}

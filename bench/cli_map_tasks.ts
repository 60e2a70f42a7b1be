// Task module of bench/cli_map.ts: per-line work for `multiproc map`.
import { createHash } from 'node:crypto'

/** Next to nothing per line: measures the CLI's own cost (read, batch, send, write). */
export function trivial(line: string): string {
  return line
}

/** About 20-30 µs of CPU per line: 8 chained SHA-256 digests. */
export function cpuish(line: string): string {
  let digest = line
  for (let i = 0; i < 8; i++) digest = createHash('sha256').update(digest).digest('hex')
  return digest.slice(0, 16)
}

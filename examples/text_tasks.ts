// Task module of the examples: CPU-bound work on one line of text.
import { createHash } from 'node:crypto'

/**
 * A deliberately CPU-heavy transformation of one line: `rounds` chained
 * SHA-256 digests, then the line with its digest prefix. Stands for any
 * per-record work (parsing, scoring, feature extraction).
 */
export function digestLine(line: string, rounds = 200): string {
  let digest = line
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex')
  return `${digest.slice(0, 12)} ${line}`
}

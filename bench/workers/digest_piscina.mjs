// The main-job task of piscina: a chunk of lines in, their digests out (a default export per file).
import { digestLine } from './digest_line.mjs'

export default function digestChunk(lines) {
  return lines.map((line) => digestLine(line))
}

// Seed 000: copy a 10,000-line file line by line through 3 workers, with
// every line in its place in the copy.
//
//   node --import tsx examples/ordered_file_copy.ts [input] [output]
//
// Without arguments it writes a generated input to a temporary directory.
// imap reads the input lazily and yields results in input order while the
// workers finish them out of order, so the copy is written as it goes, with
// bounded memory. (The same job from the shell:
// `npm run multiproc -- map examples/copy_tasks.ts#copyLine input -o output -j 3`.)
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Pool } from '../src/index.js'
import { copyLineTagged } from './copy_tasks.js'

const LINES = 10_000
const temp = process.argv[2] === undefined ? mkdtempSync(join(tmpdir(), 'multiproc-copy-')) : null
const input = process.argv[2] ?? join(temp!, 'input.txt')
const output = process.argv[3] ?? join(temp ?? '.', 'copy.txt')
if (temp !== null) {
  writeFileSync(input, Array.from({ length: LINES }, (_, i) => `line ${i + 1}: ${'abcdefghij'.slice(0, 1 + (i % 10))}`).join('\n') + '\n')
}

try {
  const workers = new Map<string, number>()
  {
    await using pool = new Pool({ processes: 3 })
    const reader = createInterface({ input: createReadStream(input), crlfDelay: Infinity })
    const writer = createWriteStream(output)
    for await (const tagged of pool.imap(copyLineTagged, reader, { chunksize: 8 })) {
      const tab = tagged.indexOf('\t')
      const worker = tagged.slice(0, tab)
      workers.set(worker, (workers.get(worker) ?? 0) + 1)
      if (!writer.write(`${tagged.slice(tab + 1)}\n`)) await once(writer, 'drain')
    }
    writer.end()
    await once(writer, 'finish')
  }

  const original = readFileSync(input, 'utf8').split('\n')
  const copy = readFileSync(output, 'utf8').split('\n')
  const misplaced = original.findIndex((line, i) => copy[i] !== line)
  if (misplaced >= 0 || copy.length !== original.length) {
    throw new Error(`line ${misplaced + 1} is not in its place: ${JSON.stringify(copy[misplaced])}`)
  }
  console.log(`copied ${original.length - 1} lines through 3 workers: every line in its place`)
  console.log(`lines per worker: ${[...workers.values()].sort((a, b) => b - a).join(', ')}`)
} finally {
  if (temp !== null) rmSync(temp, { recursive: true, force: true })
}

// The seed-000 job: copy a 10,000-line file line by line through 3 workers
// with imap, write the output, and check that every line is in its place,
// while the lines finish out of order.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Pool } from '../../src/index.js'
import * as T from '../fixtures/tasks.js'
import { backends } from './backends.js'

const LINES = 10_000

for (const backend of backends().filter((b) => b.isolated && b.parallel)) {
  describe(`ordered output [${backend.name}]`, () => {
    it(`copies a ${LINES}-line file through 3 workers with imap, every line in its place`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'multiproc-ordered-'))
      try {
        const input = join(dir, 'input.txt')
        const output = join(dir, 'output.txt')
        writeFileSync(input, Array.from({ length: LINES }, (_, i) => `line ${i + 1} of ${LINES}: ${'x'.repeat(i % 17)}`).join('\n') + '\n')

        await using pool = new Pool({ processes: 3, context: backend.name as 'thread' | 'process' | 'nats' })
        const reader = createInterface({ input: createReadStream(input), crlfDelay: Infinity })
        const writer = createWriteStream(output)
        // One line per task and many tasks in flight, so that lines really finish out of order.
        for await (const tagged of pool.imap(T.tagLine, reader, { chunksize: 1, buffersize: 64 })) {
          if (!writer.write(`${tagged}\n`)) await once(writer, 'drain')
        }
        writer.end()
        await once(writer, 'finish')

        const inLines = readFileSync(input, 'utf8').split('\n')
        const outLines = readFileSync(output, 'utf8').split('\n')
        assert.equal(outLines.length, inLines.length)
        const workers = new Set<string>()
        for (let i = 0; i < LINES; i++) {
          const [worker, line] = outLines[i]!.split('\t')
          assert.equal(line, inLines[i], `line ${i + 1} is in its place`)
          workers.add(worker!)
        }
        assert.ok(workers.size >= 2, `the lines were spread over several workers (${[...workers].join(', ')})`)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

// examples/text_tasks.ts's digestLine in plain JavaScript, for the peers of
// the main-job case (bench/main_job.ts checks that both give the same lines).
import { createHash } from 'node:crypto'

export function digestLine(line, rounds = 200) {
  let digest = line
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex')
  return `${digest.slice(0, 12)} ${line}`
}

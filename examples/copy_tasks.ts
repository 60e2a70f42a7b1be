// Task module of ordered_file_copy.ts.
import { threadId } from 'node:worker_threads'

/**
 * Copies one line, after a short wait chosen from its content, so that lines
 * finish out of order as real work does.
 */
export async function copyLine(line: string): Promise<string> {
  let h = 0
  for (let i = 0; i < line.length; i++) h = (h * 31 + line.charCodeAt(i)) >>> 0
  if (h % 3 === 0) await new Promise((resolve) => setTimeout(resolve, h % 3))
  return line
}

/** `copyLine`, tagged with the worker that copied it: `<worker>\t<line>`. */
export async function copyLineTagged(line: string): Promise<string> {
  return `${threadId}\t${await copyLine(line)}`
}

// The contexts the primitives tests run on: worker threads and child
// processes (MULTIPROC_BACKENDS narrows the run, as for the conformance suite).
import { getContext, type Context } from '../../src/index.js'

export function contexts(): Context[] {
  const only = process.env.MULTIPROC_BACKENDS?.split(',').map((s) => s.trim())
  return (['thread', 'process'] as const).filter((n) => !only || only.includes(n)).map((n) => getContext(n))
}

/** Starts every process, then joins them all. */
export async function runAll(processes: { start(): void; join(): Promise<void> }[]): Promise<void> {
  for (const p of processes) p.start()
  for (const p of processes) await p.join()
}

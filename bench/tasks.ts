// Task module of the benchmarks: what every library runs, in multiproc's form.
// It imports nothing, like the peers' task files (see moved_tasks.ts for one that does).

export function noop(): void {}

/** An I/O-bound task: awaits a timer of `ms` milliseconds. */
export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export function double(x: number): number {
  return 2 * x
}

/** Midpoint-rule slice of ∫0..1 4/(1+x²) dx = π over intervals [from, to) of n. */
export function piChunk(from: number, to: number, n: number): number {
  let sum = 0
  const h = 1 / n
  for (let i = from; i < to; i++) {
    const x = (i + 0.5) * h
    sum += 4 / (1 + x * x)
  }
  return sum * h
}

/** The array computation of the 64 MiB case, in place. */
export function scale(a: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.sqrt(a[i]! + 1) * 1.5
  return a
}

/** `scale` on a SharedArrayBuffer: nothing travels, nothing is returned. */
export function scaleShared(buffer: SharedArrayBuffer): void {
  scale(new Float64Array(buffer))
}

/** Returns its argument: a payload's round trip, nothing else. */
export function echo(bytes: Uint8Array): Uint8Array {
  return bytes
}

// Task module of pool_variants.ts.

export function square(x: number): number {
  return x * x
}

export function add(a: number, b: number): number {
  return a + b
}

/** Squares `x` after `ms` milliseconds: later items can finish first. */
export async function slowSquare(x: number, ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms))
  return x * x
}

/** `slowSquare` for imap, which passes one argument per item: `[x, ms]`. */
export function slowSquarePair([x, ms]: [number, number]): Promise<number> {
  return slowSquare(x, ms)
}

/** Keeps the CPU busy for `ms` milliseconds, then throws if told to (pool_stats.ts counts the failures). */
export function spinFor(ms: number, fail = false): number {
  const end = performance.now() + ms
  let spins = 0
  while (performance.now() < end) spins++
  if (fail) throw new Error(`task after ${spins} spins failed on purpose`)
  return spins
}

// The built-in task of `multiproc bench`: pi by the midpoint rule, one slice at a time.

/**
 * The part of pi = ∫₀¹ 4/(1+x²) dx contributed by slice `index` of `slices`,
 * with `intervals` intervals over the whole [0, 1]. Pure CPU, no allocation.
 */
export function piSlice(index: number, slices: number, intervals: number): number {
  const width = 1 / intervals
  const from = Math.floor((index * intervals) / slices)
  const to = Math.floor(((index + 1) * intervals) / slices)
  let sum = 0
  for (let i = from; i < to; i++) {
    const x = (i + 0.5) * width
    sum += 4 / (1 + x * x)
  }
  return sum * width
}

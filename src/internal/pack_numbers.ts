/**
 * Items of a map that are all numbers travel to a thread or process worker
 * as one Float64Array: structured clone copies it as a block of bytes, while
 * a plain array is written and read back value by value (on a million
 * numbers, about a third of the caller's time went to that). The worker
 * reads `items[i]` either way, and a Float64Array keeps every number as it
 * is (-0, NaN, fractions).
 */

/** items[from, to) as a Float64Array, or null when one of them is not a number. */
export function packNumbers(items: readonly unknown[], from: number, to: number): Float64Array | null {
  const packed = new Float64Array(to - from)
  for (let i = from; i < to; i++) {
    const item = items[i]
    if (typeof item !== 'number') return null
    packed[i - from] = item
  }
  return packed
}

/**
 * Items of a map that are all numbers travel to a thread or process worker
 * as one typed array: structured clone copies it as a block of bytes, while
 * a plain array is written and read back value by value (on a million
 * numbers, about a third of the caller's time went to that). The worker
 * reads `items[i]` either way.
 *
 * Int32Array while every item is an int32 (not -0): the worker then reads
 * small integers, which need no allocation, even before V8 optimizes its
 * loop; read from a Float64Array, each would be a new heap number there.
 * Otherwise Float64Array, which keeps every number as it is (-0, NaN,
 * fractions).
 *
 * The worker answers in kind: the values of a packed chunk come back packed
 * when they are all numbers (worker/result_buffer.ts), and the caller makes
 * them an array again (unpacked) as they arrive: a fill of a block read in
 * one copy costs less than reading the values back one by one.
 */

/** items[from, to) as an Int32Array or a Float64Array, or null when one of them is not a number. */
export function packNumbers(items: readonly unknown[], from: number, to: number): Int32Array | Float64Array | null {
  const ints = new Int32Array(to - from)
  for (let i = from; i < to; i++) {
    const item = items[i]
    if (typeof item !== 'number') return null
    if ((item | 0) !== item || (item === 0 && 1 / item < 0)) return packDoubles(items, from, to, ints, i)
    ints[i - from] = item
  }
  return ints
}

/** The rest of packNumbers once item `at` is not an int32: the ints so far, then the rest, as doubles. */
function packDoubles(items: readonly unknown[], from: number, to: number, ints: Int32Array, at: number): Float64Array | null {
  const doubles = new Float64Array(to - from)
  doubles.set(ints.subarray(0, at - from))
  for (let i = at; i < to; i++) {
    const item = items[i]
    if (typeof item !== 'number') return null
    doubles[i - from] = item
  }
  return doubles
}

/** Whether `items` came from packNumbers (it holds numbers only, nothing to check). */
export function isPacked(items: unknown): items is Int32Array | Float64Array {
  return items instanceof Int32Array || items instanceof Float64Array
}

/** `values` as an array: a copy of packed numbers, or `values` itself. */
export function unpacked(values: unknown[] | Int32Array | Float64Array): unknown[] {
  if (Array.isArray(values)) return values
  const out = new Array<unknown>(values.length)
  for (let i = 0; i < values.length; i++) out[i] = values[i]
  return out
}

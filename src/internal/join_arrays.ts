/** The arrays `parts` end to end, as one new array (`parts[0]` itself when it is the only one). */
export function joinArrays(parts: unknown[][]): unknown[] {
  if (parts.length === 1) return parts[0]!
  // One concat: a push per value costs several times as much on a million values.
  // Spread arguments are bounded (about 65k); concat in slices of that many arrays.
  let out: unknown[] = []
  for (let i = 0; i < parts.length; i += 10_000) out = out.concat(...parts.slice(i, i + 10_000))
  return out
}

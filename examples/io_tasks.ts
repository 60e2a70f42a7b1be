// The task of examples/io_bound.ts: an I/O-bound call that spends its time
// awaiting a server, not computing.

/** Fetches `url` and returns the length of its body. */
export async function pageLength(url: string): Promise<number> {
  const response = await fetch(url)
  return (await response.text()).length
}

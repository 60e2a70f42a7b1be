/** Runs `n` calls of `run`, at most `window` at once: a new one as each settles. Rejects with the first failure. */
export function windowed(n: number, window: number, run: () => PromiseLike<unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (n <= 0) return resolve()
    let sent = 0
    let done = 0
    const next = (): void => {
      if (++done === n) resolve()
      else if (sent < n) launch()
    }
    const launch = (): void => {
      sent++
      run().then(next, reject)
    }
    for (let i = 0; i < Math.min(window, n); i++) launch()
  })
}

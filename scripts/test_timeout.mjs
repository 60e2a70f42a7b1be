// Preloaded (--import) into every test file's process by scripts/test.mjs: no single
// test may run longer than MULTIPROC_TEST_TIMEOUT_MS. Node 20 has no per-test default
// timeout (its `--test-timeout` bounds a whole file), so root-level hooks time each
// test; one that overruns ends its file's process with a message naming it, long
// before the file's own bound. A test's own `timeout` option, when shorter, still
// fails it the usual way.
import { isMainThread } from 'node:worker_threads'

const ms = Number(process.env.MULTIPROC_TEST_TIMEOUT_MS)
const testFile = /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? '')

if (isMainThread && testFile && Number.isFinite(ms) && ms > 0) {
  const { beforeEach, afterEach } = await import('node:test')
  const timers = new Map()
  beforeEach((t) => {
    const timer = setTimeout(() => {
      process.stderr.write(`\n✖ test "${t.name}" in ${process.argv[1]} did not finish within ${ms} ms (the per-test bound, MULTIPROC_TEST_TIMEOUT_MS): ending this file\n`)
      process.exit(1)
    }, ms)
    // An idle process may still exit: the runner then reports what is pending.
    timer.unref()
    timers.set(t, timer)
  })
  afterEach((t) => {
    clearTimeout(timers.get(t))
    timers.delete(t)
  })
}

// Tasks for the ESM app: plain functions in a module the workers import.
export function square(x) {
  return x * x
}

// Writes into a SharedMemory block passed from the parent: a process worker
// sees the parent's memory only through the POSIX addon.
export function fill(shm, value) {
  shm.buf.fill(value)
  return shm.buf.length
}

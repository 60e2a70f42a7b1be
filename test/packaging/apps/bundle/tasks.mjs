export function square(x) {
  return x * x
}

// A worker knows it is one inside a bundle too (not 'MainProcess').
import { currentProcess } from 'multiproc'

export function whoAmI() {
  return currentProcess().name.startsWith('PoolWorker') ? 'worker' : currentProcess().name
}

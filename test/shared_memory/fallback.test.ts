// SharedMemory without the native addon: SharedArrayBuffers between threads,
// a typed refusal for child processes. The variable is set before the
// library loads; workers inherit it.
process.env.MULTIPROC_NO_NATIVE = '1'
const { sharedMemorySuite } = await import('./cases.js')
await sharedMemorySuite('sharedarraybuffer')

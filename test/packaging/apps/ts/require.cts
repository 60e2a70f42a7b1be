// The CommonJS side of the types: require('multiproc') from a .cts file.
import multiproc = require('multiproc')

const executor: multiproc.InlineExecutor = new multiproc.InlineExecutor()
void executor.shutdown()
export const backend: multiproc.SharedMemoryBackend = multiproc.SharedMemory.backend

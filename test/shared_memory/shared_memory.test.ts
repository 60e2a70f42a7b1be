// SharedMemory with the native addon (POSIX shm_open + mmap). CI requires
// the addon (MULTIPROC_REQUIRE_NATIVE=1); elsewhere a machine without a
// compiler skips this file and fallback.test.ts covers the rest.
import { test } from 'node:test'
import { sharedMemorySuite } from './cases.js'
import { nativeShm } from '../../src/shared_memory/native.js'

if (nativeShm !== null) await sharedMemorySuite('posix')
else if (process.env.MULTIPROC_REQUIRE_NATIVE === '1') test('the native shared memory addon is built', () => { throw new Error('build/Release/multiproc_shm.node is missing or does not load') })
else test('native shared memory addon', { skip: 'not built on this machine' }, () => {})

// The names `multiproc map` accepts for --backend are backend.ts's, loaded without the whole library.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { BACKENDS, DEFAULT_NATS_URL } from '../../src/cli/backend.js'
import { MAP_BACKENDS, MAP_DEFAULT_NATS_URL } from '../../src/cli/map_workers.js'

it('accepts the backends and the default NATS server of backend.ts', () => {
  assert.deepEqual([...MAP_BACKENDS], [...BACKENDS])
  assert.equal(MAP_DEFAULT_NATS_URL, DEFAULT_NATS_URL)
})

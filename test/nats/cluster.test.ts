// The test helpers' own nats-server: stopping it synchronously (as a process
// 'exit' handler does) stops the server and sees it gone before its store is
// removed, so a server still writing cannot race the removal.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { runScript } from '../helpers.js'
import { TestServer } from './cluster.js'

function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('TestServer', () => {
  it('stopSync() returns once the server process is gone and its store removed', async (t) => {
    const server = await TestServer.start()
    if (server.external) return t.skip('nats-server is not installed')
    const pid = server.serverPid!
    const store = server.storeDir!
    assert.ok(running(pid), 'the server runs before stopSync()')
    assert.ok(existsSync(store))
    server.stopSync()
    // No await in between: an 'exit' handler has no later turn of the event loop.
    assert.equal(running(pid), false, 'the server has exited when stopSync() returns')
    assert.equal(existsSync(store), false, 'its store is removed')
  })

  it('stopSync() in an exit handler, with JetStream writes in flight: no error, no server, no store left', async (t) => {
    const result = await runScript('test/fixtures/programs/nats_stop_on_exit.ts', [], { timeoutMs: 60_000 })
    assert.equal(result.code, 0, result.stderr)
    const info = JSON.parse(result.stdout.split('\n')[0]!) as { external?: boolean; pid: number; store: string }
    if (info.external) return t.skip('nats-server is not installed')
    assert.equal(result.stderr, '')
    assert.equal(running(info.pid), false, 'the server is gone when its test process has exited')
    assert.equal(existsSync(info.store), false, 'its store is removed')
  })
  it('kill() resolves once the server process is gone, so a restart never meets the old server', async (t) => {
    const server = await TestServer.start()
    if (server.external) return t.skip('nats-server is not installed')
    try {
      const first = server.serverPid!
      await server.kill()
      assert.equal(running(first), false, 'the old server has exited when kill() resolves')
      await server.restart()
      assert.notEqual(server.serverPid, first)
      assert.ok(running(server.serverPid!))
    } finally {
      await server.stop()
    }
    assert.equal(existsSync(server.storeDir!), false)
  })
})

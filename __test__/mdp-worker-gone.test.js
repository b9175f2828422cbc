'use strict'
// The broker sees a worker's connection close (kill -9) at once, not after missed heartbeats: a `retry`
// request moves to another worker, a request without `retry` fails with C_WORKER_LOST.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Broker, Client } = require('..')
const { uniqAddress, spawnNode, withTimeout, waitFor } = require('./helpers')

const WORKER = path.join(__dirname, 'fixtures', 'mdp-worker.js')
// Heartbeats slow enough that liveness alone would need 3 s to notice the kill.
const HEARTBEAT = 1000

for (const transport of ['tcp', 'ipc']) {
  test(`a killed worker's requests move or fail at once over ${transport}`, async (t) => {
    const addr = await uniqAddress(transport)
    const broker = new Broker(addr, { heartbeat: HEARTBEAT, heartbeatLiveness: 3, intch: false })
    await new Promise((resolve) => broker.start(resolve))
    const client = new Client(addr, { heartbeat: HEARTBEAT })
    client.start()
    const doomed = spawnNode(WORKER, [addr, 'svc', 'hang', 'doomed'])
    let healthy = null
    try {
      await doomed.waitJson((m) => m.event === 'connect', 5000)
      const moved = client.call('svc', 'moved', { timeout: 10000, retry: 1 })
      const lost = client.call('svc', 'lost', { timeout: 10000 }).then(() => null, (err) => err)
      await doomed.waitJson((m) => m.event === 'request' && m.data === 'moved', 3000)
      await doomed.waitJson((m) => m.event === 'request' && m.data === 'lost', 3000)
      healthy = spawnNode(WORKER, [addr, 'svc', 'answer', 'healthy'])
      await healthy.waitJson((m) => m.event === 'connect', 5000)
      const killedAt = process.hrtime.bigint()
      await doomed.kill('SIGKILL')
      const lostErr = await withTimeout(lost, 1000, 'C_WORKER_LOST')
      const lostMs = Number(process.hrtime.bigint() - killedAt) / 1e6
      assert.equal(await withTimeout(moved, 1000, 'the retried request'), 'healthy:moved')
      const movedMs = Number(process.hrtime.bigint() - killedAt) / 1e6
      assert.equal(lostErr && (lostErr.code || lostErr.message), 'C_WORKER_LOST')
      assert.ok(movedMs < HEARTBEAT, `reply ${movedMs} ms after the kill`)
      t.diagnostic(`kill -> C_WORKER_LOST ${lostMs.toFixed(1)} ms, kill -> retried reply ${movedMs.toFixed(1)} ms`)
      // stats() is a snapshot refreshed every 100 ms by the broker loop.
      const s = await waitFor(() => { const s = broker.stats(); return s.workersGone === 1 && s }, 2000, 20, 'stats')
      assert.equal(s.workers, 1)
      assert.equal(s.requeued, 1)
    } finally {
      client.stop()
      await doomed.kill('SIGKILL')
      if (healthy) await healthy.kill('SIGTERM')
      await new Promise((resolve) => broker.stop(resolve))
    }
  })
}

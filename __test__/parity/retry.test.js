'use strict'
// A worker dies while it holds a request: with opts.retry the broker
// re-queues the request for another worker (after the dead worker's
// liveness runs out, or at once when it disconnects); without it the
// request is dropped and the client times out.

const path = require('node:path')
const { describe, it, beforeEach, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress, spawnNode, delay } = require('../helpers')
const { createHarness, collect, nextRequest, HB } = require('./harness')
const { IMPL } = require('./impl')

const WORKER_PROC = path.join(__dirname, 'fixtures', 'worker-proc.js')

describe('retry when a worker dies', () => {
  let h
  let addr
  let procs

  beforeEach(async () => {
    h = createHarness()
    procs = []
    addr = await uniqAddress('tcp')
    await h.broker(addr)
  })
  afterEach(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')))
    await h.stopAll()
  })

  async function holdingWorkerProcess(service) {
    const p = spawnNode(WORKER_PROC, [addr, service, 'doomed', HB, 'hold'])
    procs.push(p)
    await p.waitJson((m) => m.event === 'connect', 2500)
    return p
  }

  it('re-queues the request of a killed worker when opts.retry is set', async () => {
    const doomed = await holdingWorkerProcess('rt')
    const c = await h.client(addr)
    const pending = collect(c.request('rt', 'job', { retry: 1, timeout: 2500 }), 2800)
    await doomed.waitJson((m) => m.event === 'request', 1000)
    const backup = await h.worker(addr, 'rt', (d, r) => r.end(`${d} by backup`))
    assert.ok(backup.socketId)
    const started = Date.now()
    await doomed.kill('SIGKILL')
    const res = await pending
    assert.deepEqual(res.data, ['job by backup'])
    // Purged after about heartbeatLiveness (3) + 1 broker heartbeats.
    assert.ok(Date.now() - started < 20 * HB, `took ${Date.now() - started} ms`)
  })

  it('drops the request of a killed worker without opts.retry (pigato: the client times out; ours: C_WORKER_LOST at once)', async () => {
    const doomed = await holdingWorkerProcess('rt0')
    const c = await h.client(addr)
    const pending = collect(c.request('rt0', 'job', { timeout: 900 }), 2500)
    await doomed.waitJson((m) => m.event === 'request', 1000)
    let backupGot = 0
    await h.worker(addr, 'rt0', (d, r) => {
      backupGot += 1
      r.end('unexpected')
    })
    await doomed.kill('SIGKILL')
    const res = await pending
    // pigato drops it silently, so the client only learns by its timeout; ours answers
    // the client at once when the worker is purged (documented in the README).
    assert.equal(res.error, IMPL === 'pigato' ? 'C_TIMEOUT' : 'C_WORKER_LOST')
    assert.equal(backupGot, 0)
  })

  it('re-queues at once when the holding worker stops (DISCONNECT) and retry is set', async () => {
    const first = await h.worker(addr, 'rt-stop', null)
    const c = await h.client(addr)
    const got = nextRequest(first)
    const pending = collect(c.request('rt-stop', 'job', { retry: 1, timeout: 2000 }), 2500)
    await got
    await h.worker(addr, 'rt-stop', (d, r) => r.end(`${d} by second`))
    await delay(HB / 2)
    const started = Date.now()
    first.removeAllListeners('request')
    first.stop()
    const res = await pending
    assert.deepEqual(res.data, ['job by second'])
    assert.ok(Date.now() - started < 5 * HB, `took ${Date.now() - started} ms`)
  })
})

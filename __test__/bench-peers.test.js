'use strict'
// Smoke runs of the bench drivers with tiny counts, so they keep working:
// each prints one JSON result line with the expected fields.

const path = require('node:path')
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnNode } = require('./helpers')

const BENCH = path.join(__dirname, '..', 'bench', 'peers')

async function runOnce(script, args, timeoutMs = 15000) {
  const p = spawnNode(path.join(BENCH, script), args)
  try {
    return await p.waitJson((m) => m.event === 'result' || m.event === 'error', timeoutMs)
  } finally {
    await p.kill('SIGTERM', 3000)
  }
}

describe('bench drivers (smoke)', () => {
  it('pigato throughput: N requests with K in flight', async () => {
    const r = await runOnce('run-pigato.js', ['--impl', 'pigato', '--mode', 'throughput', '--n', 300, '--inflight', 20, '--warmup', 20])
    assert.equal(r.event, 'result', JSON.stringify(r))
    assert.equal(r.bad, 0)
    assert.equal(r.n, 300)
    assert.ok(r.req_per_s > 0)
  })

  it('pigato latency: p50/p99 with one in flight', async () => {
    const r = await runOnce('run-pigato.js', ['--impl', 'pigato', '--mode', 'latency', '--n', 100, '--warmup', 10])
    assert.equal(r.event, 'result', JSON.stringify(r))
    assert.ok(r.p50_us > 0 && r.p99_us >= r.p50_us)
  })

  it('pigato rss: all requests in flight at once', async () => {
    const r = await runOnce('run-pigato.js', ['--impl', 'pigato', '--mode', 'rss', '--n', 2000, '--warmup', 10])
    assert.equal(r.event, 'result', JSON.stringify(r))
    assert.equal(r.bad, 0)
    assert.ok(r.rss_in_flight_mb > 0)
  })

  it('relay-js: publisher -> JS forwarder -> subscriber, with loss counted', async () => {
    const r = await runOnce('relay-js.js', ['--n', 2000, '--rate', 20000])
    assert.equal(r.event, 'result', JSON.stringify(r))
    assert.equal(r.sent, 2000)
    assert.equal(r.received + r.loss, 2000)
    assert.ok(r.received > 0)
  })
})

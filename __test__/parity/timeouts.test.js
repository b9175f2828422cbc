'use strict'
// Request timeouts: an unanswered request ends with the error 'C_TIMEOUT'
// (stream 'error', callback finalCb('C_TIMEOUT')); the broker drops a queued
// request whose timeout passed instead of dispatching it; a worker that
// appears within the timeout still answers.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress, delay } = require('../helpers')
const { IMPL, createHarness, collect, callback, HB } = require('./harness')

const TICK_TIMEOUTS = IMPL === 'pigato' && 'pigato checks timeouts only on heartbeat ticks'
// Cases where pigato 0.0.46 is known to misbehave (the reason above) assert our documented
// behaviour and are not registered when the spec runs against pigato.
const itUnless = (pigatoBug) => (pigatoBug ? () => {} : it)

describe('timeouts (C_TIMEOUT)', () => {
  const h = createHarness()
  let addr
  let client

  before(async () => {
    addr = await uniqAddress('tcp')
    await h.broker(addr)
    client = await h.client(addr)
  })
  after(() => h.stopAll())

  it('ends an unanswered request with C_TIMEOUT (stream form)', async () => {
    const t0 = Date.now()
    const res = await collect(client.request('nobody', 'x', { timeout: 300 }), 2500)
    const took = Date.now() - t0
    assert.equal(res.error, 'C_TIMEOUT')
    assert.deepEqual(res.data, [])
    assert.ok(took >= 290, `fired early: ${took} ms`)
    // pigato checks timeouts on the client's heartbeat ticks only, so it may
    // fire up to one heartbeat late; ours fires on time.
    const slack = IMPL === 'pigato' ? 2 * HB + 100 : 150
    assert.ok(took < 300 + slack, `fired late: ${took} ms`)
  })

  it('calls finalCb with C_TIMEOUT (callback form)', async () => {
    const res = await callback(client, 'nobody', 'x', { timeout: 200 }, 2500)
    assert.equal(res.err, 'C_TIMEOUT')
    assert.equal(res.data, null)
  })

  it('uses the client conf timeout when the request has none', async () => {
    const c = await h.client(addr, { timeout: 250 })
    const res = await collect(c.request('nobody', 'x'), 2500)
    assert.equal(res.error, 'C_TIMEOUT')
  })

  // pigato: with the default 2500 ms heartbeat a 300 ms timeout fires
  // after up to 2.5 s (only checked on ticks). Documented difference.
  itUnless(TICK_TIMEOUTS)('fires on time even with a long client heartbeat (ours only)', async () => {
    const c = await h.client(addr, { heartbeat: 2500 })
    const t0 = Date.now()
    const res = await collect(c.request('nobody', 'x', { timeout: 300 }), 1500)
    assert.equal(res.error, 'C_TIMEOUT')
    assert.ok(Date.now() - t0 < 450, `took ${Date.now() - t0} ms`)
  })

  it('a worker that appears within the timeout answers the queued request', async () => {
    const pending = collect(client.request('late', 'x', { timeout: 1000 }), 2000)
    await delay(150)
    await h.worker(addr, 'late', (d, r) => r.end(d + ':late'))
    const res = await pending
    assert.deepEqual(res.data, ['x:late'])
  })

  it('the broker drops a queued request whose timeout passed (the worker never sees it)', async () => {
    const pending = collect(client.request('expired', 'x', { timeout: 200 }), 2000)
    const res = await pending
    assert.equal(res.error, 'C_TIMEOUT')
    // The broker's 200 ms run from when the request reached it, a moment after the client's began: the
    // worker comes once they have surely passed there too (a loaded machine stretches that moment).
    await delay(150)
    let seen = 0
    await h.worker(addr, 'expired', (d, r) => {
      seen += 1
      r.end('too late')
    })
    await delay(3 * HB)
    assert.equal(seen, 0)
    // The late worker caused no stray reply: the client raised no error.
    assert.deepEqual(h.errors, [])
  })

  it('partial replies keep a request alive past its timeout (measured from the last reply)', async () => {
    await h.worker(addr, 'trickle', async (d, r) => {
      for (let i = 0; i < 6; i++) {
        r.write(i)
        await delay(80)
      }
      r.end('done')
    })
    const res = await collect(client.request('trickle', null, { timeout: 250 }), 2500)
    assert.equal(res.error, null)
    assert.deepEqual(res.data, [0, 1, 2, 3, 4, 5, 'done'])
  })
})

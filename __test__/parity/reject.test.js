'use strict'
// reply.reject(): the request goes back to its queue and another worker
// answers it; a rejecting worker is not offered the same request again.

const { describe, it, beforeEach, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress, delay } = require('../helpers')
const { IMPL, createHarness, collect, HB } = require('./harness')

const LOOPS_ON_REJECT = IMPL === 'pigato' && 'pigato 0.0.46 re-offers a rejected request to the rejecting worker in a loop'
// Cases where pigato 0.0.46 is known to misbehave (the reason above) assert our documented
// behaviour and are not registered when the spec runs against pigato.
const itUnless = (pigatoBug) => (pigatoBug ? () => {} : it)

describe('reject', () => {
  let h
  let addr

  beforeEach(async () => {
    h = createHarness()
    addr = await uniqAddress('tcp')
    await h.broker(addr)
  })
  afterEach(() => h.stopAll())

  it('a rejected request is answered by another worker', async () => {
    const rejectedRids = new Map()
    let rejectCount = 0
    await h.worker(addr, 'rj', (data, reply) => {
      rejectCount += 1
      rejectedRids.set(data, (rejectedRids.get(data) || 0) + 1)
      reply.reject('busy')
    })
    const good = await h.worker(addr, 'rj', (data, reply) => reply.end(`ok ${data}`))
    const c = await h.client(addr)
    const res = await Promise.all([0, 1, 2, 3, 4].map((i) => collect(c.request('rj', i))))
    assert.deepEqual(res.map((r) => r.data), [0, 1, 2, 3, 4].map((i) => [`ok ${i}`]))
    assert.ok(good.socketId)
    if (IMPL !== 'pigato') {
      // pigato 0.0.46 checks `req.rejects.has(workerId)` with workerId still
      // null, so a rejecting worker may be offered the same request again.
      // Ours: each request reaches the rejecting worker at most once.
      for (const [data, n] of rejectedRids) assert.equal(n, 1, `request ${data} offered ${n} times`)
    }
    assert.ok(rejectCount <= (IMPL === 'pigato' ? 50 : 5))
  })

  // With one worker pigato 0.0.46 hands the rejected request straight
  // back to it (see above), in a tight loop (measured: 743 offers in
  // 300 ms, until the broker drops it as expired): not worth running.
  itUnless(LOOPS_ON_REJECT)('a request rejected by its only worker waits for another worker', async () => {
    let offered = 0
    await h.worker(addr, 'rj1', (data, reply) => {
      offered += 1
      reply.reject('no')
    })
    const c = await h.client(addr)
    const pending = collect(c.request('rj1', 'x', { timeout: 2000 }), 2500)
    await delay(3 * HB)
    assert.equal(offered, 1)
    await h.worker(addr, 'rj1', (data, reply) => reply.end('late ' + data))
    const res = await pending
    assert.deepEqual(res.data, ['late x'])
    assert.equal(offered, 1)
  })
})

'use strict'
// Concurrency: many requests in flight from one client, a worker's
// `conf.concurrency` limit (also changed at run time, carried by the next
// heartbeat), and load spread over several workers of one service.

const { describe, it, beforeEach, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress, delay, waitFor } = require('../helpers')
const { createHarness, collect, HB } = require('./harness')

/** A worker handler that holds replies until `release()`; counts in-flight. */
function holdingHandler() {
  const state = { inFlight: 0, max: 0, held: [], served: 0 }
  state.handler = (data, reply) => {
    state.inFlight += 1
    state.max = Math.max(state.max, state.inFlight)
    state.held.push({ data, reply })
  }
  state.release = () => {
    for (const { data, reply } of state.held.splice(0)) {
      state.inFlight -= 1
      state.served += 1
      reply.end(data)
    }
  }
  return state
}

describe('concurrency', () => {
  let h
  let addr

  beforeEach(async () => {
    h = createHarness()
    addr = await uniqAddress('tcp')
    await h.broker(addr)
  })
  afterEach(() => h.stopAll())

  it('answers 200 concurrent requests from one client, each with its own data', async () => {
    await h.worker(addr, 'echo', (d, r) => r.end(d))
    const c = await h.client(addr)
    const all = []
    for (let i = 0; i < 200; i++) all.push(collect(c.request('echo', i)))
    const res = await Promise.all(all)
    res.forEach((r, i) => assert.deepEqual(r.data, [i]))
  })

  it('never gives a worker more than conf.concurrency requests at once', async () => {
    const s = holdingHandler()
    await h.worker(addr, 'limited', s.handler, { concurrency: 2 })
    // The limit travels in the worker's heartbeat that follows READY: give it
    // a moment to arrive before the requests do.
    await delay(2 * HB)
    const c = await h.client(addr)
    const pending = []
    for (let i = 0; i < 6; i++) pending.push(collect(c.request('limited', i)))
    for (let round = 0; round < 3; round++) {
      await waitFor(() => s.held.length === 2, 1000, 5, `2 held requests (round ${round})`)
      await delay(30)
      assert.equal(s.inFlight, 2)
      s.release()
    }
    const res = await Promise.all(pending)
    assert.deepEqual(res.map((r) => r.data[0]).sort(), [0, 1, 2, 3, 4, 5])
    assert.equal(s.max, 2)
  })

  it('applies a concurrency change made at run time after the next heartbeat', async () => {
    const s = holdingHandler()
    const w = await h.worker(addr, 'dyn', s.handler, { concurrency: 4 })
    w.conf.concurrency = 1
    await delay(3 * HB)
    const c = await h.client(addr)
    const pending = []
    for (let i = 0; i < 3; i++) pending.push(collect(c.request('dyn', i)))
    for (let round = 0; round < 3; round++) {
      await waitFor(() => s.held.length === 1, 1000, 5, 'one held request')
      await delay(30)
      assert.equal(s.inFlight, 1)
      s.release()
    }
    await Promise.all(pending)
    assert.equal(s.max, 1)
  })

  it('spreads requests over the workers of a service', async () => {
    const counts = { a: 0, b: 0 }
    await h.worker(addr, 'spread', (d, r) => { counts.a += 1; r.end('a') })
    await h.worker(addr, 'spread', (d, r) => { counts.b += 1; r.end('b') })
    const c = await h.client(addr)
    const res = await Promise.all(Array.from({ length: 20 }, () => collect(c.request('spread', 1))))
    assert.equal(res.length, 20)
    assert.equal(counts.a + counts.b, 20)
    assert.ok(counts.a > 0 && counts.b > 0, `both workers served: ${JSON.stringify(counts)}`)
  })

  it('serves queued requests once a worker frees up (concurrency 1, 5 requests)', async () => {
    await h.worker(addr, 'one', async (d, r) => { await delay(10); r.end(d * 2) }, { concurrency: 1 })
    await delay(2 * HB)
    const c = await h.client(addr)
    const res = await Promise.all([1, 2, 3, 4, 5].map((i) => collect(c.request('one', i))))
    assert.deepEqual(res.map((r) => r.data[0]), [2, 4, 6, 8, 10])
  })
})

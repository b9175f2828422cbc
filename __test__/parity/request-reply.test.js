'use strict'
// Request/reply through a broker, over every transport: stream and callback
// forms, JSON data both ways, options reaching the worker, error replies.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { TRANSPORTS, uniqAddress } = require('../helpers')
const { createHarness, collect, callback } = require('./harness')

for (const transport of TRANSPORTS) {
  describe(`request-reply over ${transport}`, () => {
    const h = createHarness()
    let addr
    let client
    const seenOpts = []

    before(async () => {
      addr = await uniqAddress(transport)
      await h.broker(addr)
      await h.worker(addr, 'echo', (data, reply, opts) => {
        seenOpts.push(opts)
        if (data && data.fail) return reply.error(data.fail)
        if (data === 'nothing') return reply.end()
        reply.end(typeof data === 'string' ? data + 'FINAL' : { got: data })
      })
      client = await h.client(addr)
    })
    after(() => h.stopAll())

    it('answers a request as one data event then end (stream form)', async () => {
      const res = await collect(client.request('echo', 'hi'))
      assert.deepEqual(res, { data: ['hiFINAL'], error: null, ended: true })
    })

    it('calls finalCb(falsy, data) in the callback form', async () => {
      const res = await callback(client, 'echo', 'cb')
      // pigato passes the numeric status 0 as `err` on success; code written
      // for it tests falsiness, so 0 and null are both accepted.
      assert.ok(res.err === 0 || res.err === null, `err was ${res.err}`)
      assert.equal(res.data, 'cbFINAL')
      assert.deepEqual(res.partials, [])
    })

    it('round-trips JSON values', async () => {
      const value = { a: [1, 2.5, 'x', null, true], nested: { k: 'v' } }
      const res = await collect(client.request('echo', value))
      assert.deepEqual(res.data, [{ got: value }])
    })

    it('passes request options to the worker, with timeout and retry filled in', async () => {
      seenOpts.length = 0
      await collect(client.request('echo', 'o', { custom: 'x', timeout: 5000 }))
      assert.equal(seenOpts.length, 1)
      assert.equal(seenOpts[0].custom, 'x')
      assert.equal(seenOpts[0].timeout, 5000)
      // The client fills `retry` from its conf (default 0) when absent.
      assert.equal(seenOpts[0].retry, 0)
    })

    it('requestStream is the stream form', async () => {
      const res = await collect(client.requestStream('echo', 'rs'))
      assert.deepEqual(res.data, ['rsFINAL'])
    })

    it('reply.end() with no argument ends with null data', async () => {
      const res = await callback(client, 'echo', 'nothing')
      assert.ok(!res.err)
      assert.equal(res.data, null)
    })

    it('reply.error(err) reaches the client as the error value', async () => {
      const cb = await callback(client, 'echo', { fail: 'E_BAD' })
      assert.equal(cb.err, 'E_BAD')
      assert.equal(cb.data, null)
      const st = await collect(client.request('echo', { fail: 'E_BAD2' }))
      assert.equal(st.error, 'E_BAD2')
    })

    it('gives workers and clients ids that start with their prefix', async () => {
      const w = await h.worker(addr, 'ids', (d, r) => r.end(d), { prefix: 'wp' })
      const c = await h.client(addr, { prefix: 'cp' })
      assert.match(w.socketId, /^wp-/)
      assert.match(c.socketId, /^cp-/)
      const res = await collect(c.request('ids', 1))
      assert.deepEqual(res.data, [1])
    })

    it('raised no unexpected error events', () => {
      assert.deepEqual(h.errors, [])
    })
  })
}

'use strict'
// opts.workerId: only the named worker may take the request.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress } = require('../helpers')
const { createHarness, collect } = require('./harness')

describe('workerId targeting', () => {
  const h = createHarness()
  let addr
  let client
  let w1
  let w2

  before(async () => {
    addr = await uniqAddress('tcp')
    await h.broker(addr)
    w1 = await h.worker(addr, 'tgt', (d, r) => r.end(w1.socketId), { prefix: 'one' })
    w2 = await h.worker(addr, 'tgt', (d, r) => r.end(w2.socketId), { prefix: 'two' })
    client = await h.client(addr)
  })
  after(() => h.stopAll())

  it('sends every request with opts.workerId to that worker', async () => {
    for (const w of [w2, w1, w2]) {
      const res = await Promise.all(
        Array.from({ length: 5 }, () => collect(client.request('tgt', null, { workerId: w.socketId }))),
      )
      for (const r of res) assert.deepEqual(r.data, [w.socketId])
    }
  })

  it('the worker receives the workerId in its request options', async () => {
    const seen = []
    const w3 = await h.worker(addr, 'tgt-opts', (d, r, opts) => {
      seen.push(opts.workerId)
      r.end(1)
    })
    await collect(client.request('tgt-opts', null, { workerId: w3.socketId }))
    assert.deepEqual(seen, [w3.socketId])
  })

  it('a request for an unknown worker id is not served elsewhere (it times out)', async () => {
    const res = await collect(client.request('tgt', null, { workerId: 'nobody-here', timeout: 200 }), 2000)
    assert.equal(res.error, 'C_TIMEOUT')
    assert.deepEqual(res.data, [])
  })
})

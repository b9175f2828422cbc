'use strict'
// Partial replies: reply.write() sends partials, reply.end() the final one;
// the stream form sees each as a 'data' event, the callback form calls
// partialCb per partial and finalCb once; a Readable piped into reply works.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Readable } = require('node:stream')
const { uniqAddress, delay } = require('../helpers')
const { createHarness, collect, callback } = require('./harness')

describe('partial replies and streams', () => {
  const h = createHarness()
  let client

  before(async () => {
    const addr = await uniqAddress('tcp')
    await h.broker(addr)
    await h.worker(addr, 'parts', (data, reply) => {
      for (let i = 0; i < data.n; i++) reply.write(`p${i}`)
      reply.end('final')
    })
    await h.worker(addr, 'slow-parts', async (data, reply) => {
      for (let i = 0; i < 3; i++) {
        reply.write(i)
        await delay(20)
      }
      reply.end(3)
    })
    await h.worker(addr, 'piped', (data, reply) => {
      Readable.from(['x', 'y', 'z'], { objectMode: true }).pipe(reply)
    })
    await h.worker(addr, 'ended-flag', (data, reply) => {
      const before = reply.ended
      reply.end({ before })
      data.after = reply.ended
    })
    client = await h.client(addr)
  })
  after(() => h.stopAll())

  it('streams partials in order, then the final reply, then end', async () => {
    const res = await collect(client.request('parts', { n: 3 }))
    assert.deepEqual(res, { data: ['p0', 'p1', 'p2', 'final'], error: null, ended: true })
  })

  it('calls partialCb per partial and finalCb once with the final data', async () => {
    const res = await callback(client, 'parts', { n: 4 })
    assert.deepEqual(res.partials, ['p0', 'p1', 'p2', 'p3'])
    assert.ok(!res.err)
    assert.equal(res.data, 'final')
  })

  it('keeps order across asynchronous partials', async () => {
    const res = await collect(client.request('slow-parts', null))
    assert.deepEqual(res.data, [0, 1, 2, 3])
  })

  it('carries many partials (1000) without loss', async () => {
    const res = await collect(client.request('parts', { n: 1000 }), 2500)
    assert.equal(res.data.length, 1001)
    assert.equal(res.data[999], 'p999')
    assert.equal(res.data[1000], 'final')
  })

  it('sends each chunk of a Readable piped into reply as a partial; end() closes the request', async () => {
    const res = await collect(client.request('piped', null))
    // pipe() ends with reply.end() and no data: a final reply with null data,
    // which ends the client stream without a 'data' event.
    assert.deepEqual(res, { data: ['x', 'y', 'z'], error: null, ended: true })
  })

  it('reply.ended turns true on end()', async () => {
    const res = await collect(client.request('ended-flag', {}))
    assert.deepEqual(res.data, [{ before: false }])
  })

  it('raised no unexpected error events', () => {
    assert.deepEqual(h.errors, [])
  })
})

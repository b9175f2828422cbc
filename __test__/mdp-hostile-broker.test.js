'use strict'
// A broken or hostile broker (a libzmq ROUTER speaking raw frames) facing our Client: replies
// whose data is not JSON, a 50 MB binary partial, error replies that are not JSON, unknown
// request ids. Nothing of it may throw out of our code: the client keeps serving requests.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zeromq/v5-compat')
const { Client } = require('..')
const { uniqAddress, withTimeout } = require('./helpers')

describe('a client facing a hostile broker', () => {
  let router
  let client
  const requests = []
  let waiting = null
  let clientId = null

  before(async () => {
    const addr = await uniqAddress('tcp')
    router = zmq.socket('router')
    router.bindSync(addr)
    router.on('message', (id, clazz, type, ...rest) => {
      if (type.toString() === '4') return router.send([id, clazz, '4'])
      clientId = id
      if (type.toString() !== '2') return
      requests.push({ id, service: rest[0].toString(), rid: rest[1].toString() })
      if (waiting) waiting()
    })
    client = new Client(addr, { heartbeat: 1000 })
    client.on('error', () => {})
    const connected = new Promise((resolve) => client.once('connect', resolve))
    client.start()
    await withTimeout(connected, 3000, 'client connect')
  })
  after(() => {
    client.stop()
    router.close()
  })

  /** Sends a request and resolves with the broker's view of it once it arrived. */
  async function request (data) {
    const stream = client.request('svc', data, { timeout: 5000 })
    const got = { data: [], error: null, ended: false }
    const done = new Promise((resolve) => {
      stream.on('data', (d) => got.data.push(d))
      stream.on('error', (e) => { got.error = e; resolve(got) })
      stream.on('end', () => { got.ended = true; resolve(got) })
    })
    const arrived = new Promise((resolve) => { waiting = resolve })
    await withTimeout(arrived, 3000, 'request at the fake broker')
    return { req: requests.shift(), done }
  }

  const reply = (req, type, status, data) => router.send([req.id, 'C', type, '', req.rid, status, data, '{}'])

  it('passes partial and final data that is not JSON on as the raw string', async () => {
    const { req, done } = await request('a')
    reply(req, '6', '0', '{not json')
    reply(req, '3', '0', 'nor this')
    const got = await withTimeout(done, 3000, 'reply')
    assert.deepEqual(got.data, ['{not json', 'nor this'])
    assert.equal(got.ended, true)
  })

  it('survives a 50 MB binary partial and still answers', async () => {
    const { req, done } = await request('b')
    const big = Buffer.alloc(50 * 1024 * 1024, 0xfe)
    reply(req, '6', '0', big)
    reply(req, '3', '0', '"ok"')
    const got = await withTimeout(done, 10000, 'reply')
    assert.equal(got.data.length, 2)
    assert.equal(got.data[1], 'ok')
  })

  it('hands an error reply that is not JSON to the request as an error', async () => {
    const { req, done } = await request('c')
    reply(req, '3', '-1', '<html>oops')
    const got = await withTimeout(done, 3000, 'reply')
    assert.ok(got.error, 'an error reached the stream')
  })

  it('counts replies for unknown request ids and keeps serving', async () => {
    const before = client.droppedMessages || 0
    router.send([clientId, 'C', '6', '', 'no-such-rid', '0', '"x"', '{}'])
    const { req, done } = await request('d')
    reply(req, '3', '0', '"fine"')
    const got = await withTimeout(done, 3000, 'reply')
    assert.deepEqual(got.data, ['fine'])
    assert.equal(client.droppedMessages, before + 1)
  })
})

'use strict'
// The worker's request envelope stays native (issue 20): JS handles a request by a slot number and
// replies by it; the native side puts the client id and rid back on the wire. A libzmq ROUTER plays the
// broker. A reply whose slot is no longer tracked (ended, expired, another session's) is never sent, so
// it can never reach another client; the same rid from two clients gets two slots.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zeromq/v5-compat')
const { Worker } = require('..')
const { uniqAddress, withTimeout } = require('./helpers')

const settle = (ms = 100) => new Promise((resolve) => setTimeout(resolve, ms))

describe('worker request slots', () => {
  let router
  let addr
  let worker
  let wid
  const got = []
  let waiting = null
  const handled = []

  /** The next message the fake broker got that passes `match` (frames as strings, identity apart). */
  async function next (match) {
    for (let i = 0; i < 100; i++) {
      const k = got.findIndex(match)
      if (k >= 0) return got.splice(k, 1)[0]
      await withTimeout(new Promise((resolve) => { waiting = resolve }), 3000, 'a worker message')
    }
    throw new Error('no such message')
  }
  const isReply = (rid) => (m) => m.frames[1] !== '4' && m.frames[4] === rid
  const request = (client, rid, data, opts = '{}') => router.send([wid, 'W', '2', client, 'svc', '', rid, JSON.stringify(data), opts])

  before(async () => {
    addr = await uniqAddress('tcp')
    router = zmq.socket('router')
    router.bindSync(addr)
    router.on('message', (id, ...frames) => {
      got.push({ id, frames: frames.map(String) })
      if (waiting) waiting()
    })
    worker = new Worker(addr, 'svc', { heartbeat: 500 })
    worker.on('request', (data, reply, opts) => handled.push({ data, reply, opts }))
    worker.start()
    const ready = await next((m) => m.frames[1] === '1')
    wid = ready.id
    router.send([wid, 'W', '1'])
  })
  after(() => {
    worker.stop()
    router.close()
  })

  it('replies carry the client id and rid back; the handler sees pigato\'s arguments', async () => {
    request('cli-a', 'rid-1', { n: 1 }, '{"timeout":5000,"x":1}')
    for (let i = 0; i < 50 && handled.length === 0; i++) await settle(20)
    const { data, reply, opts } = handled.shift()
    assert.deepEqual(data, { n: 1 })
    assert.deepEqual(opts, { timeout: 5000, x: 1 })
    assert.equal(worker.reqs.size, 1)
    assert.equal(typeof [...worker.reqs.keys()][0], 'number')
    assert.equal(reply.active(), true)
    reply.write('p')
    reply.end('f')
    const partial = await next(isReply('rid-1'))
    assert.deepEqual(partial.frames, ['W', '6', 'cli-a', '', 'rid-1', '0', '"p"', '{}'])
    const final = await next(isReply('rid-1'))
    assert.deepEqual(final.frames, ['W', '3', 'cli-a', '', 'rid-1', '0', '"f"', '{}'])
    assert.equal(worker.reqs.size, 0)
  })

  it('the same rid from two clients: two slots, each answered to its own client', async () => {
    request('cli-a', 'same', 1)
    request('cli-b', 'same', 2)
    for (let i = 0; i < 50 && handled.length < 2; i++) await settle(20)
    const [a, b] = handled.splice(0, 2)
    b.reply.error('nope')
    a.reply.end('yes')
    const rb = await next(isReply('same'))
    const ra = await next(isReply('same'))
    assert.deepEqual(rb.frames, ['W', '3', 'cli-b', '', 'same', '-1', '"nope"', ''])
    assert.deepEqual(ra.frames, ['W', '3', 'cli-a', '', 'same', '0', '"yes"', '{}'])
  })

  it('a client heartbeat reaches its request; a reply after the end is never sent', async () => {
    request('cli-c', 'rid-hb', 3)
    for (let i = 0; i < 50 && handled.length === 0; i++) await settle(20)
    const { reply } = handled.shift()
    const req = reply._req
    req.beat = 0
    router.send([wid, 'W', '4', 'cli-c', '', 'rid-hb'])
    for (let i = 0; i < 50 && req.beat === 0; i++) await settle(20)
    assert.ok(req.beat > 0, 'the heartbeat refreshed the request')
    reply.reject('busy')
    const rejected = await next(isReply('rid-hb'))
    assert.equal(rejected.frames[1], '7')
    // Past its end, through the worker directly (a handler keeping a reply): dropped natively.
    worker._reply('3', req, '0', 'late', {})
    await settle()
    assert.equal(got.filter(isReply('rid-hb')).length, 0)
  })

  it('a reply of an ended session is dropped and counted, not sent under the new session', async () => {
    request('cli-d', 'rid-old', 4)
    for (let i = 0; i < 50 && handled.length === 0; i++) await settle(20)
    const { reply } = handled.shift()
    const before = worker.droppedReplies
    worker.stop()
    worker.start()
    const ready = await next((m) => m.frames[1] === '1')
    wid = ready.id
    router.send([wid, 'W', '1'])
    assert.equal(reply.active(), false)
    reply.end('stale')
    assert.equal(worker.droppedReplies, before + 1)
    await settle()
    assert.equal(got.filter(isReply('rid-old')).length, 0)
  })
})

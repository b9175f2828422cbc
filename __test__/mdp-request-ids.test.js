'use strict'
// Request ids across the boundary (issue 20): the Client keys its requests by a number of its own and
// the native side makes the wire rid (`<12 base64url chars>.<id in base 36>`) and parses it back. A
// fake broker (a libzmq ROUTER) sees the rids, heartbeats and cancels; replies under rids the client
// never made (another prefix, a padded number) are protocol errors and leave the request pending.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zeromq/v5-compat')
const { Client } = require('..')
const { uniqAddress, withTimeout } = require('./helpers')

const RID = /^[A-Za-z0-9_-]{12}\.[0-9a-z]+$/

describe('client request ids', () => {
  let router
  let addr
  const seen = []
  let waiting = null
  const clients = []

  before(async () => {
    addr = await uniqAddress('tcp')
    router = zmq.socket('router')
    router.bindSync(addr)
    router.on('message', (id, clazz, type, ...rest) => {
      const t = type.toString()
      if (t === '4' && rest.length === 0) return router.send([id, clazz, '4'])
      seen.push({ id, type: t, frames: rest.map(String) })
      if (waiting) waiting()
    })
  })
  after(() => {
    for (const c of clients) c.stop()
    router.close()
  })

  async function started () {
    const client = new Client(addr, { heartbeat: 1000 })
    clients.push(client)
    const connected = new Promise((resolve) => client.once('connect', resolve))
    client.start()
    await withTimeout(connected, 3000, 'client connect')
    return client
  }

  /** The next message the fake broker gets that `match` accepts. */
  async function next (match) {
    for (let i = 0; i < 100; i++) {
      const k = seen.findIndex(match)
      if (k >= 0) return seen.splice(k, 1)[0]
      await withTimeout(new Promise((resolve) => { waiting = resolve }), 3000, 'a message at the fake broker')
    }
    throw new Error('no such message')
  }

  it('sends counter rids under a prefix per client; replies come back by them', async () => {
    const a = await started()
    const b = await started()
    const pa = a.call('svc', 1, { timeout: 5000 })
    const pb = b.call('svc', 2, { timeout: 5000 })
    const ra = await next((m) => m.type === '2' && m.frames[2] === '1')
    const rb = await next((m) => m.type === '2' && m.frames[2] === '2')
    assert.match(ra.frames[1], RID)
    assert.match(rb.frames[1], RID)
    assert.notEqual(ra.frames[1].split('.')[0], rb.frames[1].split('.')[0], 'a prefix per client')
    assert.deepEqual([...a.reqs.keys()].map((k) => typeof k), ['number'])
    router.send([ra.id, 'C', '6', '', ra.frames[1], '0', '"part"', '{}'])
    router.send([ra.id, 'C', '3', '', ra.frames[1], '0', '"a"', '{}'])
    router.send([rb.id, 'C', '3', '', rb.frames[1], '-1', '"bad"', '{}'])
    // b's rejection may come in the same batch as a's answer: handled from now on, awaited after a's.
    const bRejected = assert.rejects(withTimeout(pb, 3000, 'b'), (e) => e.code === 'bad')
    assert.equal(await withTimeout(pa, 3000, 'a'), 'a')
    await bRejected
    assert.equal(a.pending + b.pending, 0)
  })

  it('rids the client never made are protocol errors, the request stays pending', async () => {
    const c = await started()
    const errors = []
    c.on('error', (e) => errors.push(e))
    const p = c.call('svc', 3, { timeout: 5000 })
    const r = await next((m) => m.type === '2' && m.frames[2] === '3')
    const rid = r.frames[1]
    const [prefix, n] = rid.split('.')
    const other = (prefix[0] === 'A' ? 'B' : 'A') + prefix.slice(1) + '.' + n
    for (const bad of [rid + '0', prefix + '.0' + n, other, prefix + '.', 'no-such-rid']) {
      router.send([r.id, 'C', '3', '', bad, '0', '"wrong"', '{}'])
    }
    for (let i = 0; i < 50 && errors.length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(errors, Array(5).fill('ERR_REQ_INVALID'))
    assert.equal(c.pending, 1)
    router.send([r.id, 'C', '3', '', rid, '0', '"right"', '{}'])
    assert.equal(await withTimeout(p, 3000, 'reply'), 'right')
  })

  it('stream.heartbeat() names the request by its wire rid; a string rid goes as given', async () => {
    const c = await started()
    const stream = c.request('svc', 4, { timeout: 5000 })
    const r = await next((m) => m.type === '2' && m.frames[2] === '4')
    stream.heartbeat()
    const hb = await next((m) => m.type === '4' && m.frames[0] === 'request')
    assert.deepEqual(hb.frames, ['request', r.frames[1]])
    c.heartbeat('given-rid')
    const hb2 = await next((m) => m.type === '4' && m.frames[0] === 'request')
    assert.deepEqual(hb2.frames, ['request', 'given-rid'])
    const ended = new Promise((resolve) => stream.on('end', resolve).resume())
    router.send([r.id, 'C', '3', '', r.frames[1], '0', '"x"', '{}'])
    await withTimeout(ended, 3000, 'end')
  })

  it('a request taken back goes again under a new id and ends once', async () => {
    const c = await started()
    const errors = []
    c.on('error', (e) => errors.push(e))
    const p = c.call('svc', 5, { timeout: 5000 })
    const r = await next((m) => m.type === '2' && m.frames[2] === '5')
    const id = [...c.reqs.keys()][0]
    const req = c._takeBack(id)
    assert.ok(req)
    assert.equal(c.pending, 0)
    // Sent again under a new id (as a multi-broker move does).
    c._send('svc', 5, { timeout: 5000 }, req)
    const again = await next((m) => m.type === '2' && m.frames[2] === '5')
    assert.notEqual(again.frames[1], r.frames[1])
    router.send([again.id, 'C', '3', '', again.frames[1], '0', '"moved"', '{}'])
    assert.equal(await withTimeout(p, 3000, 'reply'), 'moved')
    assert.deepEqual(errors, [])
  })
})

'use strict'
// Small pigato behaviours that code written for pigato relies on: the success value of the
// final callback, requests with missing or odd frames from a broker, and what the worker
// sends back. A libzmq ROUTER (the `zeromq` package) plays the broker, so both
// implementations meet exactly the same bytes.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zeromq/v5-compat')
const { uniqAddress, withTimeout } = require('../helpers')
const { createHarness, callback } = require('./harness')

/** A libzmq ROUTER bound at `addr` that hands every message (frames as strings) to `onMsg`. */
function fakeBroker (addr, onMsg) {
  const router = zmq.socket('router')
  router.bindSync(addr)
  router.on('message', (...frames) => onMsg(frames, router))
  return router
}

/** Resolves with the next message the fake broker gets whose frames pass `match`. */
function nextMessage (state, match, timeoutMs = 3000) {
  return withTimeout(new Promise((resolve) => {
    state.waiters.push({ match, resolve })
    state.flush()
  }), timeoutMs, 'waiting for a worker message')
}

function messageQueue () {
  const state = {
    got: [],
    waiters: [],
    flush () {
      for (const w of state.waiters.slice()) {
        const i = state.got.findIndex(w.match)
        if (i === -1) continue
        state.waiters.splice(state.waiters.indexOf(w), 1)
        w.resolve(state.got.splice(i, 1)[0])
      }
    },
    push (frames) {
      state.got.push(frames)
      state.flush()
    }
  }
  return state
}

describe('final callback value', () => {
  const h = createHarness()
  let client
  before(async () => {
    const addr = await uniqAddress('tcp')
    await h.broker(addr)
    await h.worker(addr, 'echo', (data, reply) => reply.end(data))
    client = await h.client(addr)
  })
  after(() => h.stopAll())

  it('passes 0 (pigato\'s status) as the first argument on success', async () => {
    const res = await callback(client, 'echo', 'x')
    assert.equal(res.err, 0)
    assert.equal(res.data, 'x')
  })
})

describe('worker facing a broker\'s odd frames', () => {
  const h = createHarness()
  const queue = messageQueue()
  let router
  let worker
  let wid
  const requests = []

  before(async () => {
    const addr = await uniqAddress('tcp')
    router = fakeBroker(addr, (frames) => queue.push(frames))
    worker = await h.worker(addr, 'svc', (data, reply, opts) => {
      requests.push({ data, opts })
      reply.end('done')
    }, {}, { wait: false })
    const ready = await nextMessage(queue, (f) => f[1].toString() === 'W' && f[2].toString() === '1')
    wid = ready[0]
    router.send([wid, 'W', '1'])
  })
  after(async () => {
    await h.stopAll()
    router.close()
  })

  const isReply = (rid) => (f) => f[2].toString() === '3' && f[5] && f[5].toString() === rid

  it('emits request with data null when the request has no data frame', async () => {
    router.send([wid, 'W', '2', 'cli', 'svc', '', 'rid-nodata'])
    const reply = await nextMessage(queue, isReply('rid-nodata'))
    const req = requests.shift()
    assert.equal(req.data, null)
    assert.deepEqual(reply.slice(1).map(String), ['W', '3', 'cli', '', 'rid-nodata', '0', '"done"', '{}'])
  })

  it('serves a request whose delimiter frame is not empty, replying with an empty one', async () => {
    router.send([wid, 'W', '2', 'cli', 'svc', 'junk', 'rid-delim', '"hello"', '{"k":1}'])
    const reply = await nextMessage(queue, isReply('rid-delim'))
    const req = requests.shift()
    assert.equal(req.data, 'hello')
    assert.equal(req.opts.k, 1)
    assert.equal(reply[4].length, 0)
  })

  it('passes the raw string on when the data frame is not JSON', async () => {
    router.send([wid, 'W', '2', 'cli', 'svc', '', 'rid-raw', '{not json', 'nor this'])
    await nextMessage(queue, isReply('rid-raw'))
    const req = requests.shift()
    // pigato leaves data null and opts {} when they do not parse.
    assert.equal(req.data, null)
    assert.deepEqual(req.opts, {})
    assert.ok(worker)
  })
})

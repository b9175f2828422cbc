'use strict'
// The old `zmq` module's surface, checked on ours and on zeromq@6's v5-compat (ZMQ_IMPL=zeromq):
// version, Context, option table by number, constant and sugar, libzmq's verdicts on options,
// feature flags and states, read() while paused. Where v5-compat itself departs from the old
// module, the test follows the old module and says so.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { IMPL, zmq } = require('./impl')
const { uniqAddress, withTimeout } = require('../helpers')

test('version is the libzmq version whose semantics are implemented, comparable as semver', () => {
  assert.match(zmq.version, /^\d+\.\d+\.\d+$/)
  const [major, minor] = zmq.version.split('.').map(Number)
  assert.ok(major > 4 || (major === 4 && minor >= 3), zmq.version)
})

test('Context has the four functions with libzmq defaults', () => {
  assert.equal(zmq.Context.getMaxSockets(), 1023)
  assert.equal(zmq.Context.getMaxThreads(), 1)
})

test('feature flags and socket states', () => {
  for (const f of ['ZMQ_CAN_DISCONNECT', 'ZMQ_CAN_UNBIND', 'ZMQ_CAN_MONITOR', 'ZMQ_CAN_SET_CTX']) assert.equal(zmq[f], 1, f)
  assert.deepEqual([zmq.STATE_READY, zmq.STATE_BUSY, zmq.STATE_CLOSED], [0, 1, 2])
})

test('the option table maps sugar names to libzmq numbers', () => {
  const want = { affinity: 4, identity: 5, rate: 8, sndbuf: 11, rcvbuf: 12, linger: 17, reconnect_ivl: 18, backlog: 19, mechanism: 43, curve_server: 47, zap_domain: 55 }
  for (const [name, n] of Object.entries(want)) assert.equal(zmq.options[name], n, name)
})

test('options by number, by name and as properties read back, with libzmq defaults', () => {
  const s = zmq.socket('dealer')
  try {
    assert.equal(s.getsockopt(zmq.ZMQ_BACKLOG), 100)
    assert.equal(s.getsockopt('backlog'), 100)
    assert.equal(s.backlog, 100)
    s.setsockopt(19, 10)
    assert.equal(s.backlog, 10)
    s.backlog = 20
    assert.equal(s.getsockopt(19), 20)
    assert.equal(s.getsockopt('reconnect_ivl'), 100)
    assert.equal(s.getsockopt('sndbuf'), -1)
    assert.equal(s.getsockopt('rate'), 100)
    assert.equal(s.getsockopt(zmq.ZMQ_LINGER), -1)
    assert.equal(s.mechanism, 0)
    s.setsockopt(zmq.ZMQ_LINGER, 0)
    assert.equal(s.getsockopt(zmq.ZMQ_LINGER), 0)
    assert.equal(s.getsockopt(zmq.ZMQ_TYPE), zmq.ZMQ_DEALER)
  } finally {
    s.close()
  }
})

test('options libzmq 4.3 no longer has are refused', () => {
  const s = zmq.socket('dealer')
  try {
    for (const opt of ['hwm', 'swap', 'mcast_loop']) {
      assert.throws(() => s.setsockopt(opt, 1), Error, opt)
      assert.throws(() => s.getsockopt(opt), Error, opt)
    }
  } finally {
    s.close()
  }
})

// The old module's read(); zeromq@6's v5-compat removed it ("use on('message') instead"), so
// this case is registered for ours only.
if (IMPL !== 'zeromq') test('read() pulls messages while paused, null when none is ready', async () => {
  const addr = await uniqAddress('tcp')
  const pull = zmq.socket('pull')
  const push = zmq.socket('push')
  try {
    pull.bindSync(addr)
    pull.pause()
    push.connect(addr)
    push.send('one')
    push.send('two')
    const got = []
    await withTimeout((async () => {
      for (let i = 0; i < 300 && got.length < 2; i++) {
        const m = pull.read()
        if (m) got.push(m.map(String))
        else await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })(), 5000, 'read()')
    assert.deepEqual(got, [['one'], ['two']])
    assert.equal(pull.read(), null)
  } finally {
    push.close()
    pull.close()
  }
})

test(`${IMPL}: Socket is a constructor and createSocket takes options`, () => {
  const s = new zmq.Socket('dealer')
  assert.ok(s instanceof zmq.Socket)
  s.close()
  const t = zmq.createSocket('dealer', { linger: 0 })
  assert.equal(t.getsockopt(zmq.ZMQ_LINGER), 0)
  t.close()
})

test(`${IMPL}: curveKeypair() gives Z85 keys and ZMQ_MECHANISM follows the security options`, () => {
  const pair = zmq.curveKeypair()
  assert.equal(pair.public.length, 40)
  assert.equal(pair.secret.length, 40)
  const s = zmq.socket('rep')
  try {
    assert.equal(s.getsockopt(zmq.ZMQ_MECHANISM), 0)
    s.setsockopt(zmq.ZMQ_CURVE_SERVER, 1)
    s.setsockopt(zmq.ZMQ_CURVE_SECRETKEY, pair.secret)
    assert.equal(s.getsockopt(zmq.ZMQ_MECHANISM), 2)
  } finally {
    s.close()
  }
})

test(`${IMPL}: PAIR sockets talk both ways`, { timeout: 10000 }, async () => {
  const addr = await uniqAddress('tcp')
  const a = zmq.socket('pair')
  const b = zmq.socket('pair')
  try {
    a.bindSync(addr)
    b.connect(addr)
    const atA = new Promise((resolve) => a.once('message', (m) => resolve(String(m))))
    b.send('to a')
    assert.equal(await withTimeout(atA, 5000, 'at a'), 'to a')
    const atB = new Promise((resolve) => b.once('message', (m) => resolve(String(m))))
    a.send('to b')
    assert.equal(await withTimeout(atB, 5000, 'at b'), 'to b')
  } finally {
    a.close()
    b.close()
  }
})

test(`${IMPL}: CURVE between two sockets: the right server key is served`, { timeout: 10000 }, async () => {
  const addr = await uniqAddress('tcp')
  const server = zmq.curveKeypair()
  const client = zmq.curveKeypair()
  const rep = zmq.socket('rep')
  const req = zmq.socket('req')
  try {
    rep.setsockopt(zmq.ZMQ_CURVE_SERVER, 1)
    rep.setsockopt(zmq.ZMQ_CURVE_SECRETKEY, server.secret)
    rep.on('message', (m) => rep.send('ok:' + m))
    rep.bindSync(addr)
    req.setsockopt(zmq.ZMQ_CURVE_SERVERKEY, server.public)
    req.setsockopt(zmq.ZMQ_CURVE_PUBLICKEY, client.public)
    req.setsockopt(zmq.ZMQ_CURVE_SECRETKEY, client.secret)
    req.connect(addr)
    const reply = new Promise((resolve) => req.once('message', (m) => resolve(String(m))))
    req.send('hi')
    assert.equal(await withTimeout(reply, 5000, 'curve reply'), 'ok:hi')
  } finally {
    req.close()
    rep.close()
  }
})

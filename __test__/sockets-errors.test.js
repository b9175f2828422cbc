'use strict'
// Bad input gives an Error with a `code`, never a crash; a closed socket lets the process exit.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const h = require('./sockets-helpers')

const z = h.ours
const code = (c) => (err) => err.code === c

test('unknown socket types are EINVAL; PAIR and STREAM exist', () => {
  assert.throws(() => z.socket('bogus'), code('EINVAL'))
  assert.throws(() => z.socket(42), code('EINVAL'))
  const pair = z.socket('pair')
  assert.equal(pair.type, 'pair')
  pair.close()
  const stream = z.socket('stream')
  assert.equal(stream.type, 'stream')
  stream.close()
  const s = z.socket(z.ZMQ_DEALER)
  assert.equal(s.type, 'dealer')
  s.close()
})

test('malformed endpoints are EINVAL (connect and bindSync throw, bind calls back)', async () => {
  const s = z.socket('dealer')
  try {
    for (const ep of ['nope', 'tcp://127.0.0.1', 'tcp://127.0.0.1:99999', 'foo://x', 'pgm://eth0;239.1.1.1:5555', '']) {
      assert.throws(() => s.connect(ep), code('EINVAL'), ep)
      assert.throws(() => s.bindSync(ep), code('EINVAL'), ep)
    }
    assert.throws(() => s.connect(5), code('EINVAL'))
    const err = await new Promise((resolve) => s.bind('tcp://:1', resolve))
    assert.equal(err.code, 'EINVAL')
  } finally {
    s.close()
  }
})

test('an address in use is EADDRINUSE for bind and bindSync', async () => {
  const a = z.socket('router')
  const b = z.socket('router')
  try {
    const ep = h.bindHere(z, a, 'tcp')
    assert.throws(() => b.bindSync(ep), code('EADDRINUSE'))
    const err = await new Promise((resolve) => b.bind(ep, resolve))
    assert.equal(err.code, 'EADDRINUSE')
    const name = h.bindAddress('inproc')
    a.bindSync(name)
    assert.throws(() => b.bindSync(name), code('EADDRINUSE'))
  } finally {
    h.closeAll(a, b)
  }
})

test('every type binds inproc, as libzmq (a second bind of the name is EADDRINUSE)', () => {
  for (const type of ['dealer', 'push', 'pull', 'pair', 'req', 'xsub']) {
    const s = z.socket(type)
    const t = z.socket(type)
    try {
      const name = h.bindAddress('inproc')
      s.bindSync(name)
      assert.throws(() => t.bindSync(name), code('EADDRINUSE'), type)
    } finally {
      h.closeAll(s, t)
    }
  }
})

test('using a closed socket is ENOTSOCK', async () => {
  const s = z.socket('push')
  s.close()
  assert.throws(() => s.send('x'), code('ENOTSOCK'))
  const err = await new Promise((resolve) => s.send('x', 0, resolve))
  assert.equal(err.code, 'ENOTSOCK')
  assert.throws(() => s.connect('tcp://127.0.0.1:5555'), code('ENOTSOCK'))
  assert.throws(() => s.bindSync('tcp://127.0.0.1:*'), code('ENOTSOCK'))
  s.close() // closing twice is fine
})

test('wrong frame and option types are EINVAL', () => {
  const s = z.socket('dealer')
  try {
    assert.throws(() => s.send({ a: 1 }), code('EINVAL'))
    assert.throws(() => s.send([Symbol('x')]), code('EINVAL'))
    assert.throws(() => s.send([]), code('EINVAL'))
    assert.throws(() => { s.identity = 12 }, code('EINVAL'))
    assert.throws(() => { s.identity = 'x'.repeat(256) }, code('EINVAL'))
    assert.throws(() => { s.linger = 'soon' }, code('EINVAL'))
    assert.throws(() => { s.linger = -2 }, code('EINVAL'))
    assert.throws(() => { s.sndhwm = -1 }, code('EINVAL'))
    assert.throws(() => s.setsockopt(9999, 1), code('EINVAL'))
    assert.throws(() => s.getsockopt(9999), code('EINVAL'))
    assert.throws(() => s.subscribe('x'), code('EINVAL'))
  } finally {
    s.close()
  }
})

test('sending on SUB or PULL is ENOTSUP; a REP reply with no request is an EFSM error event', async () => {
  for (const type of ['sub', 'pull']) {
    const s = z.socket(type)
    assert.throws(() => s.send('x'), code('ENOTSUP'))
    s.close()
  }
  const rep = z.socket('rep')
  try {
    h.bindHere(z, rep, 'inproc')
    const err = await h.within(3000, 'EFSM', new Promise((resolve) => {
      rep.on('error', resolve)
      rep.send('unasked')
    }))
    assert.equal(err.code, 'EFSM')
  } finally {
    rep.close()
  }
})

test('options read back, ZMQ_LAST_ENDPOINT resolves the wildcard port', () => {
  const s = z.socket('router', { identity: 'r1', linger: 0, sndhwm: 10, rcvhwm: 20 })
  try {
    assert.equal(s.getsockopt(z.ZMQ_IDENTITY).toString(), 'r1')
    assert.equal(s.getsockopt(z.ZMQ_LINGER), 0)
    assert.equal(s.getsockopt(z.ZMQ_SNDHWM), 10)
    assert.equal(s.getsockopt(z.ZMQ_RCVHWM), 20)
    assert.equal(s.getsockopt(z.ZMQ_TYPE), z.ZMQ_ROUTER)
    s.setsockopt(z.ZMQ_LINGER, 5)
    assert.equal(s.linger, 5)
    s.bindSync('tcp://0.0.0.0:*')
    assert.match(s.getsockopt(z.ZMQ_LAST_ENDPOINT), /^tcp:\/\/0\.0\.0\.0:[1-9]\d*$/)
  } finally {
    s.close()
  }
})

test('constants have libzmq values', () => {
  const expected = { ZMQ_PAIR: 0, ZMQ_PUB: 1, ZMQ_SUB: 2, ZMQ_REQ: 3, ZMQ_REP: 4, ZMQ_DEALER: 5, ZMQ_ROUTER: 6, ZMQ_PULL: 7, ZMQ_PUSH: 8, ZMQ_XPUB: 9, ZMQ_XSUB: 10, ZMQ_SNDMORE: 2, ZMQ_IDENTITY: 5, ZMQ_SUBSCRIBE: 6, ZMQ_UNSUBSCRIBE: 7, ZMQ_LINGER: 17, ZMQ_SNDHWM: 23, ZMQ_RCVHWM: 24, ZMQ_LAST_ENDPOINT: 32 }
  for (const [k, v] of Object.entries(expected)) assert.equal(z[k], v, k)
  const root = require('..')
  assert.equal(root.ZMQ_ROUTER, 6)
  assert.equal(typeof root.socket, 'function')
  assert.equal(require('../zmq').createSocket, z.createSocket)
})

test('a process whose sockets are closed exits by itself, and one that never binds exits too', { timeout: 20000 }, () => {
  const lib = JSON.stringify(path.join(__dirname, '..', 'lib', 'socket'))
  const script = `
    const z = require(${lib})
    const idle = z.socket('dealer')
    const a = z.socket('pull'); const b = z.socket('push')
    b.connect(a.bindSync('tcp://127.0.0.1:*').last_endpoint)
    a.on('message', (m) => { console.log('got', String(m)); a.close(); b.close() })
    b.send('bye')
  `
  const r = spawnSync(process.execPath, ['-e', script], { timeout: 10000, encoding: 'utf8' })
  assert.equal(r.signal, null, 'process had to be killed: a handle leaked')
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'got bye')
})

test('zmq.Context limits sockets as libzmq does: EMFILE past getMaxSockets(), a closed socket frees its place', () => {
  assert.equal(z.Context.getMaxSockets(), 1023)
  assert.equal(z.Context.getMaxThreads(), 1)
  assert.throws(() => z.Context.setMaxSockets(0), code('EINVAL'))
  assert.throws(() => z.Context.setMaxSockets('9'), code('EINVAL'))
  const before = z.Context.getMaxSockets()
  const held = []
  try {
    // Whatever the suite left open counts too: find the headroom by filling it.
    z.Context.setMaxSockets(64)
    let err = null
    for (let i = 0; i <= 64 && err === null; i++) {
      try { held.push(z.socket('dealer')) } catch (e) { err = e }
    }
    assert.ok(err, 'the 65th socket must fail')
    assert.equal(err.code, 'EMFILE')
    assert.match(err.message, /setMaxSockets/)
    held.pop().close()
    held.push(z.socket('dealer'))
    assert.throws(() => z.socket('pull'), code('EMFILE'))
  } finally {
    for (const s of held) s.close()
    z.Context.setMaxSockets(before)
  }
  z.Context.setMaxThreads(2)
  assert.equal(z.Context.getMaxThreads(), 2)
  z.Context.setMaxThreads(1)
})

test('unref() lets the process exit with a bound socket; ref() holds it again', () => {
  const zmqPath = JSON.stringify(path.join(__dirname, '..', 'zmq.js'))
  const script = (extra) => `const z = require(${zmqPath}); const s = z.socket('pull'); s.bindSync('tcp://127.0.0.1:*'); ${extra}`
  const unrefd = spawnSync(process.execPath, ['-e', script('s.unref()')], { timeout: 5000 })
  assert.equal(unrefd.status, 0, 'an unref\'d socket lets the process exit')
  const held = spawnSync(process.execPath, ['-e', script('s.unref(); s.ref()')], { timeout: 1500 })
  assert.equal(held.signal, 'SIGTERM', 'a ref\'d socket keeps the process alive')
})

'use strict'
// zmq.proxy beyond the parity cases: between two of our sockets it runs in the engine (the proxied
// sockets emit no 'message', nothing is lost under back-pressure, inproc works); with a libzmq
// socket (zeromq's v5-compat) on one side it runs on 'message' events; a closed side ends it quietly.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./sockets-helpers')

const zmq = h.ours

test('in the engine: the proxied sockets emit no message, and every message of a burst arrives in order', { timeout: 30000 }, async () => {
  const frontend = zmq.socket('pull')
  const backend = zmq.socket('push')
  const push = zmq.socket('push')
  const pull = zmq.socket('pull')
  try {
    // Small high-water marks all along, so the burst runs into back-pressure at every hop.
    for (const s of [frontend, backend, push, pull]) { s.sndhwm = 10; s.rcvhwm = 10 }
    const fa = h.bindHere(zmq, frontend, 'tcp')
    const ba = h.bindHere(zmq, backend, 'tcp')
    let seenInJs = 0
    frontend.on('message', () => seenInJs++)
    backend.on('message', () => seenInJs++)
    zmq.proxy(frontend, backend)
    pull.connect(ba)
    push.connect(fa)
    const N = 20000
    const got = h.collect(pull, N, 25000, 'the burst')
    for (let i = 0; i < N; i++) push.send(String(i))
    const msgs = await got
    assert.deepEqual(msgs.map((m) => Number(m[0])), Array.from({ length: N }, (_, i) => i))
    assert.equal(seenInJs, 0, 'no frame entered JS on the proxied sockets')
  } finally {
    h.closeAll(push, pull, frontend, backend)
  }
})

test('in the engine over inproc: ROUTER/DEALER serves many requests from several clients', { timeout: 20000 }, async () => {
  const frontend = zmq.socket('router')
  const backend = zmq.socket('dealer')
  const rep = zmq.socket('rep')
  const clients = [0, 1, 2].map(() => zmq.socket('dealer'))
  try {
    const fa = h.bindHere(zmq, frontend, 'inproc')
    const ba = h.bindHere(zmq, backend, 'inproc')
    zmq.proxy(frontend, backend)
    rep.on('message', (m) => rep.send('re:' + m))
    rep.connect(ba)
    const replies = clients.map((c, i) => {
      c.connect(fa)
      const got = h.collect(c, 100, 15000, `client ${i}`)
      for (let j = 0; j < 100; j++) c.send(['', `${i}.${j}`])
      return got
    })
    const all = await Promise.all(replies)
    all.forEach((msgs, i) => {
      assert.deepEqual(msgs.map((m) => String(m[1])), Array.from({ length: 100 }, (_, j) => `re:${i}.${j}`))
    })
  } finally {
    h.closeAll(rep, frontend, backend, ...clients)
  }
})

test('with a libzmq socket on one side it runs in JS: ours PULL frontend, libzmq PUSH backend', { timeout: 15000 }, async () => {
  const frontend = zmq.socket('pull')
  const backend = h.libzmq.socket('push')
  const push = zmq.socket('push')
  const pull = h.libzmq.socket('pull')
  try {
    const fa = h.bindHere(zmq, frontend, 'tcp')
    const ba = h.bindHere(h.libzmq, backend, 'tcp')
    zmq.proxy(frontend, backend)
    pull.connect(ba)
    push.connect(fa)
    const got = h.collect(pull, 3)
    for (const m of ['a', 'b', 'c']) push.send([m, 'second frame'])
    const msgs = await got
    assert.deepEqual(msgs.map(h.strs), [['a', 'second frame'], ['b', 'second frame'], ['c', 'second frame']])
  } finally {
    h.closeAll(push, pull, frontend, backend)
  }
})

test('with a libzmq ROUTER frontend and our DEALER backend, with capture: replies and the capture arrive', { timeout: 15000 }, async () => {
  const frontend = h.libzmq.socket('router')
  const backend = zmq.socket('dealer')
  const capture = zmq.socket('push')
  const captured = zmq.socket('pull')
  const rep = zmq.socket('rep')
  const req = h.libzmq.socket('req')
  try {
    const fa = h.bindHere(h.libzmq, frontend, 'tcp')
    const ba = h.bindHere(zmq, backend, 'tcp')
    captured.connect(h.bindHere(zmq, capture, 'tcp'))
    zmq.proxy(frontend, backend, capture)
    rep.on('message', (m) => rep.send(m + ' bar'))
    rep.connect(ba)
    req.connect(fa)
    const reply = h.collect(req, 1)
    const tap = h.collect(captured, 1)
    req.send('foo')
    assert.deepEqual((await reply).map(h.strs), [['foo bar']])
    assert.deepEqual((await tap).map(h.strs), [['foo bar']])
  } finally {
    h.closeAll(req, rep, captured, capture, frontend, backend)
  }
})

test('closing one side ends the proxy quietly: the other side still works and closes', { timeout: 15000 }, async () => {
  const frontend = zmq.socket('pull')
  const backend = zmq.socket('push')
  const push = zmq.socket('push')
  try {
    const fa = h.bindHere(zmq, frontend, 'tcp')
    h.bindHere(zmq, backend, 'tcp')
    zmq.proxy(frontend, backend)
    push.connect(fa)
    backend.close()
    for (let i = 0; i < 100; i++) push.send('into a proxy with no backend')
    await h.sleep(100)
    const closed = new Promise((resolve) => frontend.once('close', resolve))
    frontend.close()
    await h.within(5000, 'the frontend closes', closed)
  } finally {
    h.closeAll(push, frontend, backend)
  }
})

'use strict'
// The old `zmq` module's socket.monitor()/unmonitor(), on ours and on zeromq@6's v5-compat
// (ZMQ_IMPL=zeromq): each event name with its (value, endpoint) as a real connect, bind, accept,
// loss and retry produce them. The old module passed libzmq's value (the fd for most events, the
// retry pause in ms for connect_retry, the errno for the *_error events); v5-compat passes
// undefined for the fd-valued events, so those value checks follow the old module and run on ours only.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { IMPL, zmq } = require('./impl')
const { uniqAddress, captureEvent, withTimeout, delay } = require('../helpers')

const OURS = IMPL !== 'zeromq'
const EADDRINUSE = 98
const NAMES = ['connect', 'connect_delay', 'connect_retry', 'listen', 'bind_error', 'accept', 'accept_error', 'close', 'close_error', 'disconnect']

/** Records every monitor event of `sock` as [name, value, endpoint]. */
function record (sock) {
  const seen = []
  for (const name of NAMES) {
    sock.on(name, (value, endpoint) => { if (endpoint !== undefined) seen.push([name, value, endpoint]) })
  }
  return seen
}

function assertFd (value, what) {
  if (OURS) assert.ok(Number.isInteger(value) && value >= 0, `${what}: fd ${value}`)
}

// The old module exported zmq.events; v5-compat does not, so this case runs on ours only.
if (OURS) test('zmq.events names the ten monitor events by libzmq number', () => {
  assert.deepEqual(zmq.events, {
    1: 'connect', 2: 'connect_delay', 4: 'connect_retry', 8: 'listen', 16: 'bind_error', 32: 'accept', 64: 'accept_error', 128: 'close', 256: 'close_error', 512: 'disconnect'
  })
})

test(`${IMPL}: bind side: listen, accept, disconnect when the peer goes, close on unbind`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress('tcp')
  const rep = zmq.socket('rep')
  const req = zmq.socket('req')
  try {
    rep.monitor(10, 0)
    const listen = captureEvent(rep, 'listen', 5000)
    await new Promise((resolve, reject) => rep.bind(addr, (err) => err ? reject(err) : resolve()))
    const [fd, endpoint] = await listen
    assert.equal(endpoint, addr)
    assertFd(fd, 'listen')

    const accept = captureEvent(rep, 'accept', 5000)
    req.connect(addr)
    const [afd, aep] = await accept
    assert.equal(aep, addr)
    assertFd(afd, 'accept')

    const gone = captureEvent(rep, 'disconnect', 5000)
    req.close()
    const [dfd, dep] = await gone
    assert.equal(dep, addr)
    if (OURS) assert.equal(dfd, afd, 'the disconnected fd is the accepted one')

    const closed = captureEvent(rep, 'close', 5000)
    rep.unbind(addr)
    const [cfd, cep] = await closed
    assert.equal(cep, addr)
    if (OURS) assert.equal(cfd, fd, 'the closed fd is the listening one')
  } finally {
    req.close()
    rep.close()
  }
})

test(`${IMPL}: connect side: connect, then disconnect and connect_retry with the pause in ms when the peer goes`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress('tcp')
  const rep = zmq.socket('rep')
  const req = zmq.socket('req')
  try {
    rep.bindSync(addr)
    req.setsockopt(zmq.ZMQ_RECONNECT_IVL, 200)
    req.monitor()
    const seen = record(req)
    const connected = captureEvent(req, 'connect', 5000)
    req.connect(addr)
    const [fd, endpoint] = await connected
    assert.equal(endpoint, addr)
    assertFd(fd, 'connect')

    const retry = captureEvent(req, 'connect_retry', 5000)
    rep.close()
    const [pause, rep2] = await retry
    assert.equal(rep2, addr)
    assert.ok(pause >= 200 && pause < 1000, `retry pause ${pause}`)
    const names = seen.map(([n]) => n)
    assert.ok(names.indexOf('disconnect') !== -1 && names.indexOf('disconnect') < names.lastIndexOf('connect_retry'), names.join(','))
  } finally {
    req.close()
    rep.close()
  }
})

test(`${IMPL}: a connect to a port nobody listens on is retried (connect_retry)`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress('tcp')
  const dealer = zmq.socket('dealer')
  try {
    dealer.setsockopt(zmq.ZMQ_RECONNECT_IVL, 100)
    dealer.monitor(10, 0)
    const seen = record(dealer)
    const retry = captureEvent(dealer, 'connect_retry', 5000)
    dealer.connect(addr)
    const [pause, endpoint] = await retry
    assert.equal(endpoint, addr)
    assert.ok(pause >= 100 && pause < 1000, `retry pause ${pause}`)
    assert.ok(!seen.some(([n]) => n === 'connect'), 'nothing listens, so no connect event')
  } finally {
    dealer.close()
  }
})

test(`${IMPL}: bind_error carries the errno of a bind to an address in use`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress('tcp')
  const a = zmq.socket('pull')
  const b = zmq.socket('pull')
  try {
    a.bindSync(addr)
    b.monitor()
    const failed = captureEvent(b, 'bind_error', 5000)
    const bound = new Promise((resolve) => b.bind(addr, resolve))
    const [errno, endpoint] = await failed
    // libzmq reports a failed bind with the address as given after the transport (no tcp://).
    assert.equal(endpoint, addr.slice('tcp://'.length))
    assert.equal(errno, EADDRINUSE)
    const err = await withTimeout(bound, 5000, 'bind callback')
    assert.ok(err instanceof Error, 'the bind callback gets the error too')
  } finally {
    a.close()
    b.close()
  }
})

// v5-compat's unmonitor() closes its event observer and then fails with an unhandled ENOTSOCK
// rejection; the old module's stopped the events quietly, which is what this case checks (ours only).
if (OURS) test(`${IMPL}: unmonitor() stops the events`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress('tcp')
  const pull = zmq.socket('pull')
  const push = zmq.socket('push')
  try {
    pull.monitor()
    const seen = record(pull)
    const listen = captureEvent(pull, 'listen', 5000)
    pull.bindSync(addr)
    await listen
    pull.unmonitor()
    const before = seen.length
    push.connect(addr)
    const got = new Promise((resolve) => pull.once('message', (m) => resolve(String(m))))
    push.send('after unmonitor')
    assert.equal(await withTimeout(got, 5000, 'message'), 'after unmonitor')
    await delay(100)
    assert.equal(seen.length, before, JSON.stringify(seen.slice(before)))
  } finally {
    push.close()
    pull.close()
  }
})

'use strict'
// The old `zmq` module's zmq.proxy(frontend, backend[, capture]), on ours and on zeromq@6's
// v5-compat (ZMQ_IMPL=zeromq): each socket order it took, with and without a capture socket, and
// its error for a wrong order. Where v5-compat departs from the old module (its error text; the
// old module's capture on PULL/PUSH stayed silent, and ours captures there), the test follows the
// old module or says which implementation it runs on.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { IMPL, zmq } = require('./impl')
const { uniqAddress, withTimeout } = require('../helpers')

const OURS = IMPL !== 'zeromq'
const T = 8000

/** Sockets of one case, closed at the end whatever happens. */
function sockets () {
  const all = []
  const make = (type) => { const s = zmq.socket(type); s.setsockopt(zmq.ZMQ_LINGER, 0); all.push(s); return s }
  make.closeAll = () => { for (const s of all) s.close() }
  return make
}

function nextMessage (sock) {
  return new Promise((resolve) => sock.once('message', (...frames) => resolve(frames.map(String))))
}

/**
 * A PUB capture socket and a SUB on it, joined before use: a probe is published until the SUB has it, so
 * the capture cannot lose the proxied message to PUB/SUB's slow joiner (a subscription still on its way
 * when the first message is published), whichever thread runs the sockets.
 */
async function captureLink (make, ca) {
  const capture = make('pub')
  capture.bindSync(ca)
  const capSub = make('sub')
  capSub.subscribe('')
  capSub.connect(ca)
  await withTimeout(sendUntil(capture, 'probe', nextMessage(capSub)), T, 'capture link')
  const captured = new Promise((resolve) => {
    const on = (...frames) => {
      if (String(frames[0]) === 'probe') return // a late probe
      capSub.removeListener('message', on)
      resolve(frames.map(String))
    }
    capSub.on('message', on)
  })
  return { capture, captured }
}

/** Sends `frames` from `sock` every 50 ms until `until` settles (PUB/SUB needs its subscription first). */
async function sendUntil (sock, frames, until) {
  let done = false
  const got = until.finally(() => { done = true })
  while (!done) {
    sock.send(frames)
    await Promise.race([got, new Promise((resolve) => setTimeout(resolve, 50))])
  }
  return got
}

async function requestReply (frontType, backType, withCapture) {
  const make = sockets()
  try {
    const [fa, ba, ca] = [await uniqAddress(), await uniqAddress(), await uniqAddress()]
    const frontend = make(frontType)
    const backend = make(backType)
    frontend.bindSync(fa)
    backend.bindSync(ba)
    let captured = null
    if (withCapture) {
      const link = await captureLink(make, ca)
      captured = link.captured
      zmq.proxy(frontend, backend, link.capture)
    } else {
      zmq.proxy(frontend, backend)
    }
    const rep = make('rep')
    rep.on('message', (msg) => rep.send(msg + ' bar'))
    rep.connect(ba)
    const req = make('req')
    req.connect(fa)
    const reply = nextMessage(req)
    req.send('foo')
    assert.deepEqual(await withTimeout(reply, T, 'reply through the proxy'), ['foo bar'])
    if (withCapture) assert.deepEqual(await withTimeout(captured, T, 'capture'), ['foo bar'])
  } finally {
    make.closeAll()
  }
}

test(`${IMPL}: ROUTER/DEALER carries REQ/REP both ways`, { timeout: 15000 }, () => requestReply('router', 'dealer', false))
test(`${IMPL}: XREP/XREQ carries REQ/REP both ways`, { timeout: 15000 }, () => requestReply('xrep', 'xreq', false))
test(`${IMPL}: ROUTER/DEALER with capture: the capture gets the reply without its envelope`, { timeout: 15000 }, () => requestReply('router', 'dealer', true))

async function pipeline (frontType, backType, withCapture) {
  const make = sockets()
  try {
    const [fa, ba, ca] = [await uniqAddress(), await uniqAddress(), await uniqAddress()]
    const frontend = make(frontType)
    const backend = make(backType)
    frontend.bindSync(fa)
    backend.bindSync(ba)
    // Messages go into the PULL side and out of the PUSH side.
    const [inAddr, outAddr] = frontType === 'pull' ? [fa, ba] : [ba, fa]
    let captured = null
    if (withCapture) {
      const link = await captureLink(make, ca)
      captured = link.captured
      zmq.proxy(frontend, backend, link.capture)
    } else {
      zmq.proxy(frontend, backend)
    }
    const pull = make('pull')
    pull.connect(outAddr)
    const push = make('push')
    push.connect(inAddr)
    const got = nextMessage(pull)
    push.send(['foo', 'two frames'])
    assert.deepEqual(await withTimeout(got, T, 'message through the proxy'), ['foo', 'two frames'])
    if (withCapture) assert.deepEqual(await withTimeout(captured, T, 'capture'), ['foo', 'two frames'])
  } finally {
    make.closeAll()
  }
}

test(`${IMPL}: PULL/PUSH forwards what the frontend pulls`, { timeout: 15000 }, () => pipeline('pull', 'push', false))
test(`${IMPL}: PUSH/PULL forwards what the backend pulls`, { timeout: 15000 }, () => pipeline('push', 'pull', false))
test(`${IMPL}: PUSH/PULL with capture`, { timeout: 15000 }, () => pipeline('push', 'pull', true))
// The old module (and v5-compat) tapped the PUSH backend here, which never receives: their capture
// stayed silent. Ours captures the messages the proxy moves.
if (OURS) test(`${IMPL}: PULL/PUSH with capture`, { timeout: 15000 }, () => pipeline('pull', 'push', true))

async function pubSub (withCapture) {
  const make = sockets()
  try {
    const [fa, ba, ca] = [await uniqAddress(), await uniqAddress(), await uniqAddress()]
    const frontend = make('xpub')
    const backend = make('xsub')
    frontend.bindSync(fa)
    backend.bindSync(ba)
    let captured = null
    if (withCapture) {
      const link = await captureLink(make, ca)
      captured = link.captured
      zmq.proxy(frontend, backend, link.capture)
    } else {
      zmq.proxy(frontend, backend)
    }
    const sub = make('sub')
    sub.subscribe('news')
    sub.connect(fa)
    const pub = make('pub')
    pub.connect(ba)
    // The subscription travels SUB -> XPUB -> proxy -> XSUB -> PUB before anything is published to it.
    const got = await withTimeout(sendUntil(pub, ['news', 'foo'], nextMessage(sub)), T, 'publication through the proxy')
    assert.deepEqual(got, ['news', 'foo'])
    if (withCapture) assert.deepEqual(await withTimeout(captured, T, 'capture'), ['news', 'foo'])
  } finally {
    make.closeAll()
  }
}

test(`${IMPL}: XPUB/XSUB carries subscriptions up and publications down`, { timeout: 15000 }, () => pubSub(false))
test(`${IMPL}: XPUB/XSUB with capture: the capture gets the publications`, { timeout: 15000 }, () => pubSub(true))

test(`${IMPL}: a wrong socket order throws`, () => {
  const make = sockets()
  try {
    for (const [f, b] of [['dealer', 'router'], ['xsub', 'xpub'], ['pub', 'sub'], ['req', 'rep']]) {
      // The old module's text; v5-compat says 'This socket type order is not supported in compatibility mode'.
      const want = OURS ? { message: 'wrong socket order to proxy' } : Error
      assert.throws(() => zmq.proxy(make(f), make(b)), want, `${f}/${b}`)
    }
  } finally {
    make.closeAll()
  }
})

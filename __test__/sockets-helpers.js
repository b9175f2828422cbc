'use strict'
// Shared helpers of the sockets tests: addresses per transport, bounded waits, and the
// pattern bodies run with any pair of implementations (ours: lib/socket.js; libzmq:
// zeromq/v5-compat). Both expose the old `zmq` module API, so one body serves every direction.
const assert = require('node:assert/strict')
const path = require('node:path')
const os = require('node:os')

const ours = require('../lib/socket')
let libzmq = null
try {
  libzmq = require('zeromq/v5-compat')
} catch (err) {
  if (process.env.CI === 'true') throw err
}

let seq = 0
/** A bind address for `proto` ('tcp' gets an ephemeral port on 127.0.0.1). */
function bindAddress (proto) {
  seq++
  switch (proto) {
    case 'tcp': return 'tcp://127.0.0.1:*'
    case 'ipc': return `ipc://${path.join(os.tmpdir(), `zmqbus-sock-${process.pid}-${seq}.ipc`)}`
    case 'inproc': return `inproc://zmqbus-sock-${process.pid}-${seq}`
    default: throw new Error(proto)
  }
}

/** Binds `sock` synchronously and returns the endpoint peers connect to. */
function bindHere (mod, sock, proto) {
  sock.bindSync(bindAddress(proto))
  return String(sock.getsockopt(mod.ZMQ_LAST_ENDPOINT)).replace(/\0$/, '')
}

function timeout (ms, what) {
  let timer
  const p = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  p.clear = () => clearTimeout(timer)
  return p
}

async function within (ms, what, promise) {
  const t = timeout(ms, what)
  try {
    return await Promise.race([promise, t])
  } finally {
    t.clear()
  }
}

/** The next `n` messages of `sock` (each an array of Buffers), within `ms`. */
function collect (sock, n, ms = 5000, what = 'messages') {
  const got = []
  return within(ms, `${what} (${got.length}/${n})`, new Promise((resolve) => {
    const on = (...frames) => {
      got.push(frames)
      if (got.length === n) {
        sock.removeListener('message', on)
        resolve(got)
      }
    }
    sock.on('message', on)
  }))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const strs = (frames) => frames.map((f) => f.toString())

function closeAll (...socks) {
  for (const s of socks) {
    try { s.close() } catch {}
  }
}

// ------------------------------------------------------------------ pattern bodies
// Each takes (binder module, connector module, transport) and checks one pattern end to end.

async function reqRep (B, C, proto) {
  const rep = B.socket('rep')
  const req = C.socket('req')
  try {
    const ep = bindHere(B, rep, proto)
    rep.on('message', (...frames) => rep.send(['re', ...frames]))
    req.connect(ep)
    const replies = collect(req, 3, 5000, 'replies')
    req.send('one')
    req.send(['two', '', Buffer.from([0, 255, 1])])
    req.send(3)
    const got = await replies
    assert.deepEqual(strs(got[0]), ['re', 'one'])
    assert.deepEqual(got[1][0].toString(), 're')
    assert.deepEqual(got[1].slice(1).map((b) => [...b]), [[...Buffer.from('two')], [], [0, 255, 1]])
    assert.deepEqual(strs(got[2]), ['re', '3'])
  } finally {
    closeAll(req, rep)
  }
}

async function dealerRouter (B, C, proto) {
  const router = B.socket('router')
  const dealer = C.socket('dealer')
  try {
    const ep = bindHere(B, router, proto)
    dealer.identity = 'dealer-1'
    router.on('message', (id, ...rest) => router.send([id, 'back', ...rest]))
    dealer.connect(ep)
    const got = collect(dealer, 2, 5000, 'routed replies')
    dealer.send(['a', '', Buffer.from([0, 1, 2, 255])])
    dealer.send('b')
    const [m1, m2] = await got
    assert.deepEqual(m1.map((b) => [...b]), [[...Buffer.from('back')], [...Buffer.from('a')], [], [0, 1, 2, 255]])
    assert.deepEqual(strs(m2), ['back', 'b'])
    // The router saw our identity.
    router.removeAllListeners('message')
    const seen = collect(router, 1, 5000, 'identity')
    dealer.send('who')
    const [[id]] = await seen
    assert.equal(id.toString(), 'dealer-1')
  } finally {
    closeAll(dealer, router)
  }
}

async function pushPull (B, C, proto) {
  const pull = B.socket('pull')
  const push = C.socket('push')
  try {
    const ep = bindHere(B, pull, proto)
    push.connect(ep)
    const got = collect(pull, 200, 5000, 'pushed')
    for (let i = 0; i < 200; i++) push.send(['job', String(i)])
    const msgs = await got
    assert.deepEqual(msgs.map((m) => Number(m[1].toString())), [...Array(200).keys()])
  } finally {
    closeAll(push, pull)
  }
}

async function pubSub (B, C, proto) {
  const pub = B.socket('pub')
  const sub = C.socket('sub')
  try {
    const ep = bindHere(B, pub, proto)
    sub.subscribe('weather')
    sub.subscribe(Buffer.from([0xff, 0]))
    sub.connect(ep)
    const seen = []
    sub.on('message', (...frames) => seen.push(frames))
    // PUB drops until the subscription arrives (slow joiner): publish until something is seen.
    const deadline = Date.now() + 5000
    let i = 0
    while (seen.length < 4 && Date.now() < deadline) {
      pub.send(['sports', String(i)])
      pub.send(['weather.paris', String(i)])
      pub.send([Buffer.from([0xff, 0, 7]), ''])
      pub.send('weathe')
      i++
      await sleep(20)
    }
    assert.ok(seen.length >= 4, `subscriber got ${seen.length} messages`)
    for (const m of seen) {
      const topic = m[0]
      const ok = topic.toString().startsWith('weather') || (topic[0] === 0xff && topic[1] === 0)
      assert.ok(ok, `unexpected topic ${topic.toString('hex')}`)
    }
    assert.ok(seen.some((m) => m[0][0] === 0xff), 'binary prefix filter delivers')
  } finally {
    closeAll(sub, pub)
  }
}

// --- security tests (sockets-security, sockets-authenticator) ---

/** Sends `body` from a libzmq (v6 API) REQ and resolves its reply, or null when none comes within `ms`. */
async function lzAsk (req, body, ms) {
  await req.send(body)
  const reply = req.receive().then(([m]) => m.toString())
  const none = sleep(ms).then(() => null)
  return Promise.race([reply, none])
}

/** Our REP answering `ok:<request>`. */
function echoRep (rep) {
  rep.on('message', (m) => rep.send('ok:' + m))
  return rep
}

/** Our REQ's reply to `body`, or null when none comes within `ms`. */
function ourAsk (req, body, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms)
    req.once('message', (m) => {
      clearTimeout(timer)
      resolve(m.toString())
    })
    req.send(body)
  })
}

/** Handshakes a server socket refused, over every reason. */
const refusals = (sock) => Object.values(sock.stats().refused || {}).reduce((a, b) => a + b, 0)

module.exports = { ours, libzmq, bindAddress, bindHere, within, collect, sleep, strs, closeAll, reqRep, dealerRouter, pushPull, pubSub, lzAsk, echoRep, ourAsk, refusals }

'use strict'
// CURVE and PLAIN on classic sockets, against libzmq (the `zeromq` package, v6 API) in both
// directions: the right key or password is served, a wrong one is refused and counted. Options are
// set by the old module's names (setsockopt / ZMQ_* numbers) and the `zeromq` package's camelCase.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const zeromq = require('zeromq')
const h = require('./sockets-helpers')

const z = h.ours

const { lzAsk, echoRep, ourAsk, refusals } = h

test('zmq.curveKeypair() gives Z85 keys in the old module shape; mechanism follows the options', () => {
  const pair = z.curveKeypair()
  assert.equal(pair.public.length, 40)
  assert.equal(pair.secret.length, 40)
  const s = z.socket('rep')
  try {
    assert.equal(s.mechanism, z.ZMQ_NULL)
    s.setsockopt(z.ZMQ_CURVE_SERVER, 1)
    s.setsockopt(z.ZMQ_CURVE_SECRETKEY, pair.secret)
    assert.equal(s.getsockopt(z.ZMQ_MECHANISM), z.ZMQ_CURVE)
    assert.equal(s.curveServer, true)
    const p = z.socket('req')
    p.plainUsername = 'u'
    assert.equal(p.mechanism, z.ZMQ_PLAIN)
    p.close()
    assert.throws(() => { s.curve_secretkey = 'short' }, (err) => err.code === 'EINVAL')
  } finally {
    s.close()
  }
})

test('CURVE: our server, libzmq clients: the right server key is served, a wrong one refused and counted', { timeout: 15000 }, async () => {
  const server = zeromq.curveKeyPair()
  const rep = echoRep(z.socket('rep'))
  rep.curveServer = true
  rep.curveSecretKey = server.secretKey
  const good = new zeromq.Request({ linger: 0, curveServerKey: server.publicKey, ...clientKeys() })
  const bad = new zeromq.Request({ linger: 0, curveServerKey: zeromq.curveKeyPair().publicKey, ...clientKeys() })
  try {
    const ep = h.bindHere(z, rep, 'tcp')
    good.connect(ep)
    assert.equal(await lzAsk(good, 'secret', 5000), 'ok:secret')
    bad.connect(ep)
    assert.equal(await lzAsk(bad, 'intruder', 700), null)
    assert.ok(refusals(rep) >= 1, JSON.stringify(rep.stats()))
  } finally {
    rep.close()
    good.close()
    bad.close()
  }
})

function clientKeys () {
  const k = zeromq.curveKeyPair()
  return { curvePublicKey: k.publicKey, curveSecretKey: k.secretKey }
}

test('CURVE: a server allow-list (authorize) refuses a valid client that is not on it', { timeout: 15000 }, async () => {
  const server = z.curveKeypair()
  const listed = clientKeys()
  const rep = echoRep(z.socket('rep'))
  rep.setsockopt(z.ZMQ_CURVE_SERVER, 1)
  rep.setsockopt(z.ZMQ_CURVE_SECRETKEY, server.secret)
  rep.authorize({ curveClients: [listed.curvePublicKey] })
  const ok = new zeromq.Request({ linger: 0, curveServerKey: server.public, ...listed })
  const other = new zeromq.Request({ linger: 0, curveServerKey: server.public, ...clientKeys() })
  try {
    const ep = h.bindHere(z, rep, 'tcp')
    ok.connect(ep)
    assert.equal(await lzAsk(ok, 'a', 5000), 'ok:a')
    other.connect(ep)
    assert.equal(await lzAsk(other, 'b', 700), null)
    assert.ok(refusals(rep) >= 1, JSON.stringify(rep.stats()))
  } finally {
    rep.close()
    ok.close()
    other.close()
  }
})

test('CURVE: libzmq server, our clients: the right server key is served, a wrong one never connects', { timeout: 15000 }, async () => {
  const server = zeromq.curveKeyPair()
  const rep = new zeromq.Reply({ linger: 0, curveServer: true, curveSecretKey: server.secretKey })
  const good = z.socket('req')
  const bad = z.socket('req')
  try {
    await rep.bind('tcp://127.0.0.1:*')
    const served = (async () => {
      for await (const [m] of rep) await rep.send('ok:' + m)
    })()
    served.catch(() => {})
    const mine = z.curveKeypair()
    good.curveServerKey = server.publicKey
    good.setsockopt(z.ZMQ_CURVE_PUBLICKEY, mine.public)
    good.setsockopt(z.ZMQ_CURVE_SECRETKEY, mine.secret)
    good.connect(rep.lastEndpoint)
    assert.equal(await ourAsk(good, 'hi', 5000), 'ok:hi')
    bad.curveServerKey = zeromq.curveKeyPair().publicKey
    bad.connect(rep.lastEndpoint)
    assert.equal(await ourAsk(bad, 'hi', 700), null)
    const dial = bad.stats().dial
    assert.equal(dial.connected, 0, JSON.stringify(dial))
    assert.ok(dial.attempts >= 1)
  } finally {
    h.closeAll(good, bad)
    rep.close()
  }
})

test('PLAIN: our server with users, libzmq clients: the right password is served, a wrong one refused and counted', { timeout: 15000 }, async () => {
  const rep = echoRep(z.socket('rep'))
  rep.setsockopt(z.ZMQ_PLAIN_SERVER, 1)
  rep.authorize({ users: { admin: 'secret' } })
  const good = new zeromq.Request({ linger: 0, plainUsername: 'admin', plainPassword: 'secret' })
  const bad = new zeromq.Request({ linger: 0, plainUsername: 'admin', plainPassword: 'guess' })
  try {
    const ep = h.bindHere(z, rep, 'tcp')
    good.connect(ep)
    assert.equal(await lzAsk(good, 'in', 5000), 'ok:in')
    bad.connect(ep)
    assert.equal(await lzAsk(bad, 'in', 700), null)
    assert.ok(refusals(rep) >= 1, JSON.stringify(rep.stats()))
  } finally {
    rep.close()
    good.close()
    bad.close()
  }
})

/** A ZAP handler in libzmq's context admitting `user`/`pass` only (libzmq's PLAIN needs one). */
async function zapHandler (user, pass) {
  const zap = new zeromq.Router({ linger: 0 })
  await zap.bind('inproc://zeromq.zap.01')
  const served = (async () => {
    for await (const [id, , version, reqId, , , , , u, p] of zap) {
      const ok = String(u) === user && String(p) === pass
      await zap.send([id, '', version, reqId, ok ? '200' : '400', ok ? 'OK' : 'denied', ok ? user : '', ''])
    }
  })()
  served.catch(() => {})
  return zap
}

test('PLAIN: libzmq server, our clients: the right password is served, a wrong one never connects', { timeout: 15000 }, async () => {
  const zap = await zapHandler('admin', 'secret')
  const rep = new zeromq.Reply({ linger: 0, plainServer: true })
  const good = z.socket('req')
  const bad = z.socket('req')
  try {
    await rep.bind('tcp://127.0.0.1:*')
    const served = (async () => {
      for await (const [m] of rep) await rep.send('ok:' + m)
    })()
    served.catch(() => {})
    good.plainUsername = 'admin'
    good.setsockopt(z.ZMQ_PLAIN_PASSWORD, 'secret')
    good.connect(rep.lastEndpoint)
    assert.equal(await ourAsk(good, 'hi', 5000), 'ok:hi')
    bad.setsockopt('plain_username', 'admin')
    bad.plainPassword = 'guess'
    bad.connect(rep.lastEndpoint)
    assert.equal(await ourAsk(bad, 'hi', 700), null)
    assert.equal(bad.stats().dial.connected, 0, JSON.stringify(bad.stats()))
  } finally {
    h.closeAll(good, bad)
    rep.close()
    zap.close()
  }
})

'use strict'
// A server socket's authenticator function (`sock.authorize({ handler })`, the ZAP-style hook of the wire
// engine issue): asked during each handshake with what the client presented, it alone decides; refusals
// are counted; a handler that throws or answers wrongly refuses the peer and reports, never crashes.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const zeromq = require('zeromq')
const h = require('./sockets-helpers')

const z = h.ours

const { lzAsk, echoRep, ourAsk, refusals } = h

test('PLAIN: the handler sees username, password and domain, and decides alone (allow-list ignored)', { timeout: 15000 }, async () => {
  const seen = []
  const rep = echoRep(z.socket('rep'))
  rep.plainServer = true
  rep.zap_domain = 'inner' // eslint-disable-line camelcase
  rep.authorize({ users: { admin: 'pw' }, handler: (req) => { seen.push(req); return req.username === 'guest' && req.password === 'open' } })
  const good = new zeromq.Request({ linger: 0, plainUsername: 'guest', plainPassword: 'open' })
  const listed = new zeromq.Request({ linger: 0, plainUsername: 'admin', plainPassword: 'pw' })
  try {
    const ep = h.bindHere(z, rep, 'tcp')
    good.connect(ep)
    assert.equal(await lzAsk(good, 'hi', 5000), 'ok:hi')
    listed.connect(ep)
    assert.equal(await lzAsk(listed, 'hi', 700), null, 'the allow-list no longer admits')
    assert.deepEqual(seen[0], { mechanism: 'PLAIN', domain: 'inner', username: 'guest', password: 'open' })
    assert.ok(seen.some((r) => r.username === 'admin'))
    assert.ok(refusals(rep) >= 1, JSON.stringify(rep.stats()))
  } finally {
    rep.close()
    good.close()
    listed.close()
  }
})

test('CURVE: the handler sees the client key in Z85; our clients admitted or refused by it', { timeout: 15000 }, async () => {
  const server = z.curveKeypair()
  const friend = z.curveKeypair()
  const stranger = z.curveKeypair()
  const keysSeen = []
  const rep = echoRep(z.socket('rep'))
  rep.curveServer = true
  rep.curveSecretKey = server.secret
  rep.authorize({ handler: ({ mechanism, publicKey }) => { keysSeen.push(publicKey); return mechanism === 'CURVE' && publicKey === friend.public ? 'friend' : 400 } })
  const client = (pair) => {
    const req = z.socket('req')
    req.curveServerKey = server.public
    req.curvePublicKey = pair.public
    req.curveSecretKey = pair.secret
    return req
  }
  const good = client(friend)
  const bad = client(stranger)
  try {
    const ep = h.bindHere(z, rep, 'tcp')
    good.connect(ep)
    assert.equal(await ourAsk(good, 'a', 5000), 'ok:a')
    bad.connect(ep)
    assert.equal(await ourAsk(bad, 'b', 700), null)
    assert.ok(keysSeen.includes(friend.public) && keysSeen.includes(stranger.public), JSON.stringify(keysSeen))
    assert.ok(refusals(rep) >= 1)
  } finally {
    for (const s of [rep, good, bad]) s.close()
  }
})

test('a handler that throws or answers a Promise refuses the peer and reports to error listeners', { timeout: 15000 }, async () => {
  const errors = []
  let calls = 0
  const rep = echoRep(z.socket('rep'))
  rep.plainServer = true
  rep.on('error', (err) => errors.push(err))
  rep.authorize({ handler: () => { calls++; if (calls === 1) throw new Error('boom'); return Promise.resolve(true) } })
  const first = new zeromq.Request({ linger: 0, plainUsername: 'u', plainPassword: 'p' })
  const second = new zeromq.Request({ linger: 0, plainUsername: 'u', plainPassword: 'p' })
  try {
    const ep = h.bindHere(z, rep, 'tcp')
    first.connect(ep)
    assert.equal(await lzAsk(first, 'x', 700), null)
    second.connect(ep)
    assert.equal(await lzAsk(second, 'y', 700), null)
    assert.ok(calls >= 2, `calls: ${calls}`)
    assert.equal(errors[0].message, 'boom')
    assert.ok(errors.some((e) => e.code === 'EINVAL' && /synchronously/.test(e.message)), errors.map(String).join())
    assert.ok(refusals(rep) >= 2, JSON.stringify(rep.stats()))
  } finally {
    rep.close()
    first.close()
    second.close()
  }
})

test('authorize({ handler }) checks its argument', () => {
  const rep = z.socket('rep')
  try {
    assert.throws(() => rep.authorize({ handler: 'yes' }), (err) => err.code === 'EINVAL' && err instanceof TypeError)
  } finally {
    rep.close()
  }
})

test('a socket on the runtime thread (ZMQBUS_THREAD=runtime) refuses a handler with ENOTSUP', () => {
  const { spawnSync } = require('node:child_process')
  const script = `
    const z = require(${JSON.stringify(require.resolve('../zmq'))})
    const s = z.socket('rep')
    try { s.authorize({ handler: () => true }); console.log('accepted') } catch (err) { console.log(err.code) }
    s.close()`
  const out = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ZMQBUS_THREAD: 'runtime' }, encoding: 'utf8', timeout: 10000 })
  assert.equal(out.stdout.trim(), 'ENOTSUP', out.stderr)
})

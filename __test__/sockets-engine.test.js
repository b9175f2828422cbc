'use strict'
// Classic sockets on our own ZMTP engine, against libzmq (the `zeromq` package, v6 API): PAIR both
// ways, ROUTER_MANDATORY's EHOSTUNREACH in the send callback, a connecting ROUTER with an identity,
// options that act on connections (heartbeats, maxmsgsize), and every type over inproc.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const zeromq = require('zeromq')
const h = require('./sockets-helpers')

const z = h.ours

/** Our socket's bound tcp endpoint. */
function bound (sock) {
  return h.bindHere(z, sock, 'tcp')
}

/** A free tcp endpoint bound by a libzmq socket. */
async function lzBind (sock) {
  await sock.bind('tcp://127.0.0.1:*')
  return sock.lastEndpoint
}

test('PAIR: ours binds, libzmq connects, both ways', { timeout: 10000 }, async () => {
  const ours = z.socket('pair')
  const peer = new zeromq.Pair({ linger: 0 })
  try {
    peer.connect(bound(ours))
    await peer.send(['hello', 'pair'])
    const [got] = await h.collect(ours, 1, 5000, 'from libzmq')
    assert.deepEqual(h.strs(got), ['hello', 'pair'])
    ours.send(['back'])
    const [reply] = await h.within(5000, 'from ours', peer.receive())
    assert.equal(reply.toString(), 'back')
  } finally {
    ours.close()
    peer.close()
  }
})

test('PAIR: libzmq binds, ours connects, both ways', { timeout: 10000 }, async () => {
  const ours = z.socket('pair')
  const peer = new zeromq.Pair({ linger: 0 })
  try {
    ours.connect(await lzBind(peer))
    // A PAIR queues for its one connected peer before the connection is up (libzmq's pipe).
    ours.send('early')
    const [got] = await h.within(5000, 'from ours', peer.receive())
    assert.equal(got.toString(), 'early')
    await peer.send('answer')
    const [reply] = await h.collect(ours, 1, 5000, 'from libzmq')
    assert.deepEqual(h.strs(reply), ['answer'])
  } finally {
    ours.close()
    peer.close()
  }
})

test('PAIR: a second peer is refused while the first holds the socket', { timeout: 10000 }, async () => {
  const ours = z.socket('pair')
  const first = z.socket('pair')
  const second = z.socket('pair')
  try {
    const ep = bound(ours)
    first.connect(ep)
    first.send('one')
    await h.collect(ours, 1, 5000, 'first peer')
    second.connect(ep)
    await h.sleep(200)
    assert.ok(ours.stats().refused.pair_has_a_peer >= 1, JSON.stringify(ours.stats()))
  } finally {
    h.closeAll(ours, first, second)
  }
})

test('ROUTER_MANDATORY: an unknown routing id gives EHOSTUNREACH to the send callback', { timeout: 10000 }, async () => {
  const router = z.socket('router')
  const dealer = new zeromq.Dealer({ routingId: 'known', linger: 0 })
  try {
    router.setsockopt(z.ZMQ_ROUTER_MANDATORY, 1)
    assert.equal(router.mandatory, true)
    dealer.connect(bound(router))
    await dealer.send('hi')
    const [msg] = await h.collect(router, 1, 5000, 'hello from the dealer')
    assert.equal(msg[0].toString(), 'known')
    const err = await h.within(3000, 'unknown id', new Promise((resolve) => router.send(['nobody', 'x'], 0, resolve)))
    assert.equal(err && err.code, 'EHOSTUNREACH')
    const ok = await h.within(3000, 'known id', new Promise((resolve) => router.send(['known', 'y'], 0, resolve)))
    assert.ok(ok === null || ok === undefined, String(ok))
    const [y] = await h.within(3000, 'delivered', dealer.receive())
    assert.equal(y.toString(), 'y')
  } finally {
    router.close()
    dealer.close()
  }
})

test('ROUTER_MANDATORY with no peer at all: EHOSTUNREACH at once', { timeout: 5000 }, async () => {
  const router = z.socket('router', { mandatory: true })
  try {
    bound(router)
    const err = await h.within(3000, 'verdict', new Promise((resolve) => router.send(['nobody', 'x'], 0, resolve)))
    assert.equal(err && err.code, 'EHOSTUNREACH')
  } finally {
    router.close()
  }
})

test('a REQ closed with requests queued behind an unanswered one closes at once', { timeout: 5000 }, async () => {
  const req = z.socket('req')
  const rep = z.socket('rep')
  try {
    req.connect(bound(rep))
    for (let i = 0; i < 3; i++) req.send('q' + i)
    await h.collect(rep, 1, 3000, 'the first request')
  } finally {
    rep.close()
    const t0 = Date.now()
    await new Promise((resolve) => req.close(resolve))
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`)
  }
})

test('without ROUTER_MANDATORY a message for an unknown id is dropped silently', { timeout: 5000 }, async () => {
  const router = z.socket('router')
  try {
    bound(router)
    const err = await new Promise((resolve) => router.send(['nobody', 'x'], 0, resolve))
    assert.ok(err === null || err === undefined)
  } finally {
    router.close()
  }
})

test('a connecting ROUTER with an identity is known by it to a libzmq ROUTER', { timeout: 10000 }, async () => {
  const ours = z.socket('router', { identity: 'ours-r' })
  const peer = new zeromq.Router({ routingId: 'lz-r', linger: 0 })
  try {
    ours.mandatory = true
    ours.connect(await lzBind(peer))
    // Routable once the handshake told us the peer's routing id.
    for (let i = 0; ; i++) {
      const err = await new Promise((resolve) => ours.send(['lz-r', 'ping'], 0, resolve))
      if (!err) break
      assert.equal(err.code, 'EHOSTUNREACH')
      assert.ok(i < 100, 'the peer never became routable')
      await h.sleep(20)
    }
    const [id, body] = await h.within(5000, 'at libzmq', peer.receive())
    assert.deepEqual([id.toString(), body.toString()], ['ours-r', 'ping'])
    await peer.send(['ours-r', 'pong'])
    const [reply] = await h.collect(ours, 1, 5000, 'pong')
    assert.deepEqual(h.strs(reply), ['lz-r', 'pong'])
  } finally {
    ours.close()
    peer.close()
  }
})

test('a message over ZMQ_MAXMSGSIZE closes that connection, smaller ones pass', { timeout: 10000 }, async () => {
  const pull = z.socket('pull')
  const push = new zeromq.Push({ linger: 0 })
  try {
    pull.maxmsgsize = 100
    push.connect(bound(pull))
    await push.send('small')
    const [got] = await h.collect(pull, 1, 5000, 'small message')
    assert.equal(got[0].toString(), 'small')
    await push.send(Buffer.alloc(1000))
    await h.sleep(300)
    const refused = Object.values(pull.stats().refused).reduce((a, b) => a + b, 0)
    assert.ok(refused >= 1, JSON.stringify(pull.stats()))
  } finally {
    pull.close()
    push.close()
  }
})

test('ZMTP heartbeats with libzmq keep an idle connection up', { timeout: 10000 }, async () => {
  const ours = z.socket('dealer')
  const peer = new zeromq.Router({ linger: 0, heartbeatInterval: 50, heartbeatTimeout: 200 })
  try {
    ours.setsockopt(z.ZMQ_HEARTBEAT_IVL, 50)
    ours.heartbeatTimeout = 200
    ours.connect(await lzBind(peer))
    ours.send('one')
    await h.within(3000, 'first', peer.receive())
    await h.sleep(600)
    ours.send('two')
    const [, body] = await h.within(3000, 'after idle heartbeats', peer.receive())
    assert.equal(body.toString(), 'two')
    assert.equal(ours.stats().dial.connected, 1, 'never reconnected')
  } finally {
    ours.close()
    peer.close()
  }
})

const inprocPairs = [['pair', 'pair'], ['dealer', 'router'], ['req', 'rep'], ['push', 'pull'], ['xsub', 'xpub']]
for (const [a, b] of inprocPairs) {
  test(`inproc: ${a.toUpperCase()} binds, ${b.toUpperCase()} connects`, { timeout: 10000 }, async () => {
    const binder = z.socket(a)
    const conn = z.socket(b)
    try {
      const ep = h.bindHere(z, binder, 'inproc')
      conn.connect(ep)
      if (a === 'xsub') {
        binder.send(Buffer.from([1, 0x74]))
        const [sub] = await h.collect(conn, 1, 5000, 'subscription at the XPUB')
        assert.deepEqual([...sub[0]], [1, 0x74])
        conn.send('topic')
        const [m] = await h.collect(binder, 1, 5000, 'publication')
        assert.equal(m[0].toString(), 'topic')
        return
      }
      if (b === 'router') conn.on('message', (id, m) => conn.send([id, 'ok:' + m]))
      else if (b === 'rep') conn.on('message', (m) => conn.send('ok:' + m))
      binder.send('x')
      const [got] = await h.collect(b === 'router' || b === 'rep' ? binder : conn, 1, 5000, 'inproc message')
      const last = got[got.length - 1].toString()
      assert.ok(last === 'x' || last === 'ok:x', last)
    } finally {
      h.closeAll(binder, conn)
    }
  })
}

test('ZMQ_IMMEDIATE: messages go only to connected peers, none wait for a dead endpoint', { timeout: 10000 }, async () => {
  const router = z.socket('router')
  const dealer = z.socket('dealer', { identity: 'imm' })
  const dead = z.socket('router')
  try {
    const live = bound(router)
    // A free port nobody listens on: bound once, then released.
    const gone = bound(dead)
    dead.close()
    await h.sleep(50)
    dealer.setsockopt(z.ZMQ_IMMEDIATE, 1)
    dealer.connect(gone)
    dealer.connect(live)
    for (let i = 0; i < 100 && router.stats().active === 0; i++) await h.sleep(20)
    await h.sleep(50)
    for (let i = 0; i < 10; i++) dealer.send(String(i))
    const got = await h.collect(router, 10, 5000, 'every message at the live peer')
    assert.deepEqual(got.map((m) => m[1].toString()), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
  } finally {
    h.closeAll(router, dealer)
  }
})

'use strict'
// CURVE and PLAIN on the broker's listening socket, against libzmq peers (the `zeromq` package) speaking
// pigato's wire: the right key is served, a wrong key, an unlisted key, a wrong password and a NULL peer
// are refused and counted, never served. Keys: our key pairs, Z85 both ways, and bad keys refused at once.
const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zeromq')
const { Broker, Worker, Client, curveKeyPair, curvePublic, z85Encode, z85Decode } = require('..')
const { uniqAddress, waitFor, withTimeout } = require('./helpers')

const sockets = []
after(() => { for (const s of sockets) s.close() })

function dealer (opts) {
  const s = new zmq.Dealer({ linger: 0, ...opts })
  sockets.push(s)
  return s
}

async function startBroker (conf) {
  const addr = await uniqAddress('tcp')
  const broker = new Broker(addr, { intch: false, heartbeat: 500, ...conf })
  await new Promise((resolve) => broker.start(resolve))
  return { broker, addr }
}

/** A libzmq worker for `echo` and a libzmq client; resolves with the client's reply frames. */
async function echoThrough (addr, workerOpts, clientOpts) {
  const w = dealer({ routingId: 'w-' + Math.random(), ...workerOpts })
  w.connect(addr)
  await w.send(['W', '1', 'echo'])
  const serve = (async () => {
    for (;;) {
      const [, type, clientId, , , rid, data] = (await w.receive()).map(String)
      if (type === '2') return w.send(['W', '3', clientId, '', rid, '0', data, '{}'])
    }
  })()
  const c = dealer({ routingId: 'c-' + Math.random(), ...clientOpts })
  c.connect(addr)
  await c.send(['C', '2', 'echo', 'rid-1', '"hi"', '{}'])
  const reply = (await withTimeout(c.receive(), 5000, 'reply')).map(String)
  await serve
  return reply
}

describe('CURVE keys', () => {
  it('makes key pairs whose public key derives from the secret, and Z85 round-trips', () => {
    const a = curveKeyPair()
    assert.equal(a.publicKey.length, 40)
    assert.equal(a.secretKey.length, 40)
    assert.equal(curvePublic(a.secretKey), a.publicKey)
    assert.notEqual(curveKeyPair().secretKey, a.secretKey)
    const raw = z85Decode(a.publicKey)
    assert.equal(raw.length, 32)
    assert.equal(z85Encode(raw), a.publicKey)
    // libzmq derives the same public key from our secret.
    assert.equal(zmq.curvePublicKey ? zmq.curvePublicKey(a.secretKey) : a.publicKey, a.publicKey)
  })

  it('refuses keys that are not keys, with a code, before anything is bound', () => {
    assert.throws(() => new Broker('tcp://127.0.0.1:1', { curve: { secretKey: 'short' } }), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => new Broker('tcp://127.0.0.1:1', { curve: 'x' }), { code: 'ERR_INVALID_ARG_TYPE' })
    const mismatched = new Broker('tcp://127.0.0.1:1', { curve: { secretKey: curveKeyPair().secretKey, publicKey: curveKeyPair().publicKey } })
    assert.throws(() => mismatched.start(), { code: 'EINVAL', message: /publicKey does not match/ })
    assert.throws(() => z85Decode('abc'), { code: 'EINVAL' })
  })
})

describe('a CURVE broker', () => {
  const server = curveKeyPair()
  const listed = curveKeyPair()

  it('serves libzmq peers with the right keys and refuses unlisted, wrong and NULL peers', async () => {
    const { broker, addr } = await startBroker({ curve: { secretKey: server.secretKey, clients: [listed.publicKey] } })
    try {
      const keys = { curveServerKey: server.publicKey, curvePublicKey: listed.publicKey, curveSecretKey: listed.secretKey }
      const reply = await echoThrough(addr, keys, keys)
      assert.deepEqual(reply.slice(0, 6), ['C', '3', '', 'rid-1', '0', '"hi"'])

      const unlisted = curveKeyPair()
      const u = dealer({ curveServerKey: server.publicKey, curvePublicKey: unlisted.publicKey, curveSecretKey: unlisted.secretKey })
      u.connect(addr)
      const wrong = curveKeyPair()
      const x = dealer({ curveServerKey: wrong.publicKey, curvePublicKey: listed.publicKey, curveSecretKey: listed.secretKey })
      x.connect(addr)
      const n = dealer({})
      n.connect(addr)
      for (const s of [u, x, n]) s.send(['C', '2', 'echo', 'rid-x', '"no"', '{}']).catch(() => {})
      await waitFor(() => {
        const c = broker.stats().connections
        // The unlisted key is refused by the allow-list, the wrong server key fails the crypto, and the NULL
        // peer (libzmq) hangs up itself on seeing CURVE in our greeting, or we refuse it first.
        return (c.refused.auth_refused || 0) >= 1 && (c.refused.crypto || 0) >= 1 &&
          ((c.refused.mechanism_mismatch || 0) + c.handshakeEof) >= 1
      }, 5000, 20, 'three refusals counted').catch((e) => { throw new Error(e.message + ' ' + JSON.stringify(broker.stats().connections)) })
      assert.equal(broker.stats().requests, 1, JSON.stringify(broker.stats()))
    } finally {
      await new Promise((resolve) => broker.stop(resolve))
    }
  })
})

describe('a PLAIN broker', () => {
  it('serves a libzmq peer with the right password and refuses a wrong one', async () => {
    const { broker, addr } = await startBroker({ plain: { users: { alice: 's3cret' } } })
    try {
      const good = { plainUsername: 'alice', plainPassword: 's3cret' }
      const reply = await echoThrough(addr, good, good)
      assert.deepEqual(reply.slice(0, 6), ['C', '3', '', 'rid-1', '0', '"hi"'])
      const bad = dealer({ plainUsername: 'alice', plainPassword: 'guess' })
      bad.connect(addr)
      bad.send(['C', '2', 'echo', 'rid-x', '"no"', '{}']).catch(() => {})
      await waitFor(() => (broker.stats().connections.refused.auth_refused || 0) >= 1, 5000, 20, 'a refusal counted')
      assert.equal(broker.stats().requests, 1)
    } finally {
      await new Promise((resolve) => broker.stop(resolve))
    }
  })
})

describe('our Worker and Client with a secured broker', () => {
  it('serve requests over CURVE, and a client with the wrong server key is refused and times out', async () => {
    const server = curveKeyPair()
    const { broker, addr } = await startBroker({ curve: { secretKey: server.secretKey } })
    const worker = new Worker(addr, 'echo', { heartbeat: 500, curve: { serverKey: server.publicKey } })
    worker.on('request', (data, reply) => reply.end('sealed:' + data))
    const client = new Client(addr, { heartbeat: 500, curve: { serverKey: z85Decode(server.publicKey) } })
    const wrong = new Client(addr, { heartbeat: 500, curve: { serverKey: curveKeyPair().publicKey } })
    worker.start(); client.start(); wrong.start()
    try {
      assert.equal(await client.call('echo', 'x', { timeout: 5000 }), 'sealed:x')
      await assert.rejects(wrong.call('echo', 'y', { timeout: 500 }), (err) => err === 'C_TIMEOUT' || /C_TIMEOUT/.test(String(err && (err.message || err))))
      assert.ok((broker.stats().connections.refused.crypto || 0) >= 1, JSON.stringify(broker.stats().connections))
      assert.equal(broker.stats().requests, 1)
    } finally {
      worker.stop(); client.stop(); wrong.stop()
      await new Promise((resolve) => broker.stop(resolve))
    }
  })

  it('serve requests over PLAIN with the right password', async () => {
    const { broker, addr } = await startBroker({ plain: { users: { svc: 'pw' } } })
    const worker = new Worker(addr, 'echo', { heartbeat: 500, plain: { username: 'svc', password: 'pw' } })
    worker.on('request', (data, reply) => reply.end(data))
    const client = new Client(addr, { heartbeat: 500, plain: { username: 'svc', password: 'pw' } })
    worker.start(); client.start()
    try {
      assert.equal(await client.call('echo', 'plain', { timeout: 5000 }), 'plain')
    } finally {
      worker.stop(); client.stop()
      await new Promise((resolve) => broker.stop(resolve))
    }
  })

  it('refuse a client whose CURVE options cannot work, at start, with a code', () => {
    const client = new Client('tcp://127.0.0.1:1', { curve: { publicKey: curveKeyPair().publicKey, serverKey: curveKeyPair().publicKey } })
    assert.throws(() => client.start(), { code: 'EINVAL', message: /secretKey is required/ })
  })
})

'use strict'
// busmq over TLS: rediss:// urls, redisOptions.tls and withRedis(client) carrying TLS settings,
// against redis-servers that listen on a TLS port only, with a CA and certificates made here by
// the openssl CLI. A certificate that does not verify is an error with a code, never a hang.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Bus = require('../busmq')
const { startTlsRedis, makeCerts, online, collect, call, captureEvent, uniqName } = require('./busmq-helpers')

let certs
let redis // TLS only (its plain port is 0): whatever reaches it spoke TLS
let mtls // TLS only, and asks every client for a certificate signed by certs.ca
const buses = []
before(async () => {
  certs = makeCerts()
  redis = await startTlsRedis(certs)
  mtls = await startTlsRedis(certs, { authClients: true })
})
after(async () => {
  for (const bus of buses) bus.disconnect()
  await redis?.stop()
  await mtls?.stop()
  certs?.remove()
})

function bus (opts) {
  const b = Bus.create(opts)
  buses.push(b)
  return b
}

/** A message pushed on one bus is consumed on the same bus: a round trip through Redis. */
async function roundTrip (b) {
  const q = b.queue(uniqName('tls'))
  const attached = captureEvent(q, 'attached', 5000)
  q.attach()
  await attached
  assert.equal(await call((cb) => q.push('over tls', cb)), 1)
  const c = collect(q, 1)
  q.consume()
  assert.deepEqual(await c.done, [['over tls', 1]])
  q.detach()
}

test('rediss:// with redisOptions.tls.ca: online, and a queue pushes and consumes', async () => {
  const b = bus({ redis: redis.url, redisOptions: { tls: { ca: certs.pem(certs.ca) } } })
  const up = online(b)
  b.connect()
  await up
  await roundTrip(b)
})

test('a redis:// url with redisOptions.tls (a Buffer CA in an array) connects with TLS, as ioredis does', async () => {
  const b = bus({ redisOptions: { tls: { ca: [Buffer.from(certs.pem(certs.ca))] } } })
  const up = online(b)
  b.connect(`redis://127.0.0.1:${redis.port}`)
  await up
  await roundTrip(b)
})

test('withRedis() takes host, port and TLS settings from a real ioredis client object', async () => {
  const IORedis = require('ioredis')
  const client = new IORedis({ host: '127.0.0.1', port: redis.port, tls: { ca: certs.pem(certs.ca) }, lazyConnect: true })
  const b = bus().withRedis(client)
  const up = online(b)
  b.connect()
  await up
  await roundTrip(b)
  client.disconnect()
})

test('withRedis() takes TLS from a node-redis 4 client object (options.socket.tls with ca)', async () => {
  // node-redis 4's createClient() keeps these settings on client.options (not installed here;
  // the object has its shape).
  const client = { options: { socket: { host: '127.0.0.1', port: redis.port, tls: true, ca: certs.pem(certs.ca) } } }
  const b = bus().withRedis(client)
  const up = online(b)
  b.connect()
  await up
  await roundTrip(b)
})

test('a server certificate from an unknown CA is one error with code UNABLE_TO_VERIFY_LEAF_SIGNATURE, no online', async () => {
  const b = bus({ redis: redis.url, redisOptions: { tls: { ca: certs.pem(certs.wrongCa) } } })
  let wentOnline = false
  b.on('online', () => { wentOnline = true })
  const errors = []
  b.on('error', (e) => errors.push(e))
  const err = captureEvent(b, 'error', 5000)
  b.connect()
  const [e] = await err
  assert.ok(e instanceof Error)
  assert.equal(e.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  assert.match(e.message, /UnknownIssuer/)
  // It keeps retrying (once a second) without reporting each attempt, and never goes online.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(errors.length, 1)
  assert.equal(wentOnline, false)
  assert.equal(b.isOnline(), false)
})

test('rediss:// with the system CAs only (ours is not among them) fails the same way', async () => {
  const b = bus({ redis: redis.url })
  const err = captureEvent(b, 'error', 5000)
  b.connect()
  assert.equal((await err)[0].code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
})

test('rejectUnauthorized: false accepts a certificate no CA vouches for', async () => {
  const b = bus({ redis: redis.url, redisOptions: { tls: { rejectUnauthorized: false } } })
  const up = online(b)
  b.connect()
  await up
  await roundTrip(b)
})

test('a server that wants a client certificate: EPROTO without one, online with cert and key', async () => {
  const without = bus({ redis: mtls.url, redisOptions: { tls: { ca: certs.pem(certs.ca) } } })
  const err = captureEvent(without, 'error', 6000)
  without.connect()
  const [e] = await err
  assert.equal(e.code, 'EPROTO')
  assert.match(e.message, /CertificateRequired/)
  assert.equal(without.isOnline(), false)

  const tls = { ca: certs.pem(certs.ca), cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) }
  const b = bus({ redis: mtls.url, redisOptions: { tls } })
  const up = online(b)
  b.connect()
  await up
  await roundTrip(b)
})

test('a plain redis:// client on the TLS port gets a coded error, not a hang', async () => {
  const b = bus({ redis: `redis://127.0.0.1:${redis.port}` })
  const err = captureEvent(b, 'error', 8000)
  b.connect()
  const [e] = await err
  // The server drops the connection at our first (plain) bytes; which errno we read depends on
  // timing.
  assert.ok(['ECONNRESET', 'EPIPE', 'EIO'].includes(e.code), `${e.code}: ${e.message}`)
  assert.equal(b.isOnline(), false)
})

test('TLS with the sentinels or cluster layout is refused with ENOTSUP', async () => {
  for (const layout of ['sentinels', 'cluster']) {
    const b = bus({ redis: 'rediss://127.0.0.1:26379', layout })
    const err = captureEvent(b, 'error')
    b.connect()
    const [e] = await err
    assert.equal(e.code, 'ENOTSUP')
    assert.match(e.message, new RegExp(`TLS with layout '${layout}'`))
  }
})

'use strict'
// bus.pubsub(), bus.persistify() and bus.service() of busmq 3.1, each against real busmq on one
// redis-server in both directions (their Redis forms: channel `bus:pubsub:<n>`, hash
// `bus:persisted:<n>`, queues `service:<n>` and `service:<n>:replyTo:<hex>`).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Ours = require('../busmq')
const Theirs = require('busmq')
const { startRedis, redisCli, online, call, captureEvent, uniqName, waitFor, withTimeout } = require('./busmq-helpers')

let redis
const buses = []
const cleanups = []
before(async () => { redis = await startRedis() })
after(async () => {
  for (const c of cleanups) c()
  for (const bus of buses) bus.disconnect()
  await redis.stop()
})

async function up (Module) {
  const bus = Module.create({ redis: [redis.url] })
  bus.on('error', (err) => { throw new Error('bus error: ' + err) })
  buses.push(bus)
  const ready = online(bus)
  bus.connect()
  await ready
  return bus
}

const pairs = [['busmq', 'ours'], ['ours', 'busmq']]
const impl = { busmq: Theirs, ours: Ours }

for (const [from, to] of pairs) {
  test(`pubsub: ${from} publishes, ${to} hears every message in order (strings and JSON objects)`, async () => {
    const [pub, sub] = [await up(impl[from]), await up(impl[to])]
    const name = uniqName('ps')
    const listener = sub.pubsub(name)
    cleanups.push(() => listener.unsubscribe())
    const got = []
    listener.on('message', (m) => got.push(m))
    const subscribed = captureEvent(listener, 'subscribed', 3000)
    listener.subscribe()
    await subscribed
    assert.equal(listener.isSubscribed(), true)
    const publisher = pub.pubsub(name)
    for (let i = 0; i < 20; i++) await call((cb) => publisher.publish('p' + i, cb))
    await call((cb) => publisher.publish({ a: 1 }, cb))
    await waitFor(() => got.length === 21, 3000, 10, 'published messages')
    assert.deepEqual(got, [...Array.from({ length: 20 }, (_, i) => 'p' + i), '{"a":1}'])
    const unsubscribed = captureEvent(listener, 'unsubscribed', 3000)
    listener.unsubscribe()
    await unsubscribed
    assert.equal(listener.isSubscribed(), false)
  })
}

test('pubsub: two of our objects on one channel both hear it; one leaving keeps the other subscribed', async () => {
  const bus = await up(Ours)
  const name = uniqName('ps2')
  const [a, b] = [bus.pubsub(name), bus.pubsub(name)]
  const got = { a: [], b: [] }
  a.on('message', (m) => got.a.push(m))
  b.on('message', (m) => got.b.push(m))
  const both = Promise.all([captureEvent(a, 'subscribed'), captureEvent(b, 'subscribed')])
  a.subscribe()
  b.subscribe()
  await both
  assert.equal(await redisCli(redis.port, 'PUBSUB', 'NUMSUB', 'bus:pubsub:' + name), `bus:pubsub:${name}\n1`)
  await call((cb) => a.publish('one', cb))
  await waitFor(() => got.a.length === 1 && got.b.length === 1, 3000)
  const left = captureEvent(a, 'unsubscribed')
  a.unsubscribe()
  await left
  await call((cb) => bus.pubsub(name).promisify().publish('two').then(() => cb(), cb))
  await waitFor(() => got.b.length === 2, 3000)
  assert.deepEqual(got, { a: ['one'], b: ['one', 'two'] })
  b.unsubscribe()
})

for (const [from, to] of pairs) {
  test(`persistify: ${from} saves, ${to} loads the same values (JSON per field, with an expiry)`, async () => {
    const [writer, reader] = [await up(impl[from]), await up(impl[to])]
    const name = uniqName('persisted')
    const w = writer.persistify(name, {}, ['count', 'tags', 'owner'])
    w.count = 3
    w.tags = ['x', 'y']
    w.owner = { id: 7 }
    const key = await call((cb) => w.save(cb))
    assert.equal(key, 'bus:persisted:' + name)
    assert.equal(await redisCli(redis.port, 'HGET', key, 'tags'), '["x","y"]')
    const ttl = Number(await redisCli(redis.port, 'TTL', key))
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`)
    const r = reader.persistify(name, {}, ['count', 'tags', 'owner', 'missing'])
    const exists = await withTimeout(new Promise((resolve, reject) => r.load((err, e, k) => {
      if (err) reject(err)
      else resolve([e, k])
    })), 3000, 'load')
    assert.deepEqual(exists, [true, key])
    assert.equal(r.count, 3)
    assert.deepEqual(r.tags, ['x', 'y'])
    assert.deepEqual(r.owner, { id: 7 })
    assert.equal(r.missing, undefined)
    w.unpersist()
    r.unpersist()
  })
}

test('persistify: load of a missing object says so; persist(ttl) keeps touching, unpersist stops it', async () => {
  const bus = await up(Ours)
  const name = uniqName('persist')
  const o = bus.persistify(name, { other: 1 }, ['v'])
  const none = await withTimeout(new Promise((resolve) => o.load((err, e) => resolve([err, e]))), 3000, 'load')
  assert.deepEqual(none, [null, false])
  assert.equal(o.persistId(), 'bus:persisted:' + name)
  o.persist(3)
  o.v = 'kept'
  await call((cb) => o.save(cb))
  assert.equal(o.stringify(), '{"v":"kept"}')
  // The touch every second keeps the TTL near 3 even after the first 3 s have passed.
  await new Promise((resolve) => setTimeout(resolve, 3500))
  assert.ok(Number(await redisCli(redis.port, 'TTL', o.persistId())) >= 2)
  o.unpersist()
  await waitFor(async () => await redisCli(redis.port, 'EXISTS', 'bus:persisted:' + name) === '0', 6000, 200, 'expiry')
})

for (const [server, client] of pairs) {
  test(`service: ${server} serves, ${client} requests: replies match requests, timeouts say 'timeout'`, async () => {
    const [sbus, cbus] = [await up(impl[server]), await up(impl[client])]
    const name = uniqName('svc')
    const s = sbus.service(name)
    s.on('request', (data, reply) => {
      if (data.op === 'silent') return // never answered: the client times out
      if (data.op === 'fail') return reply('failed on purpose')
      reply(null, { echo: data.v, by: server })
    })
    await withTimeout(new Promise((resolve) => s.serve(resolve)), 5000, 'serve')
    cleanups.push(() => s.disconnect())
    const c = cbus.service(name)
    await withTimeout(new Promise((resolve) => c.connect({ reqTimeout: 2000 }, resolve)), 5000, 'connect')
    cleanups.push(() => c.disconnect())
    const ask = (data, opts) => withTimeout(new Promise((resolve) => {
      c.request(data, opts || {}, (err, reply) => resolve([err, reply]))
    }), 5000, 'request')
    const replies = await Promise.all([1, 2, 3, 4, 5].map((v) => ask({ v })))
    assert.deepEqual(replies, [1, 2, 3, 4, 5].map((v) => [null, { echo: v, by: server }]))
    const [err] = await ask({ op: 'fail' })
    assert.equal(err, 'failed on purpose')
    const started = Date.now()
    const [terr, treply] = await ask({ op: 'silent' }, { reqTimeout: 300 })
    assert.ok(terr == 'timeout', String(terr)) // eslint-disable-line eqeqeq
    assert.equal(treply, undefined)
    assert.ok(Date.now() - started >= 280)
  })
}

test('service: a streamed reply arrives as a readable stream, in order, from a busmq requester too', async () => {
  const [sbus, theirs] = [await up(Ours), await up(Theirs)]
  const name = uniqName('stream')
  const s = sbus.service(name)
  s.on('request', (n, reply) => {
    const out = reply.createWriteStream()
    for (let i = 0; i < n; i++) out.write('part' + i)
    out.end()
  })
  await withTimeout(new Promise((resolve) => s.serve(resolve)), 5000, 'serve')
  cleanups.push(() => s.disconnect())
  for (const bus of [sbus, theirs]) {
    const c = bus.service(name)
    await withTimeout(new Promise((resolve) => c.connect(resolve)), 5000, 'connect')
    cleanups.push(() => c.disconnect())
    const parts = await withTimeout(new Promise((resolve, reject) => {
      c.request(4, { streamReply: true }, (err, stream) => {
        if (err) return reject(err)
        const got = []
        stream.on('data', (d) => got.push(d))
        stream.on('end', () => resolve(got))
      })
    }), 5000, 'stream')
    assert.deepEqual(parts, ['part0', 'part1', 'part2', 'part3'])
  }
})

test('service: disconnect(grace) waits for a reply in flight, then detaches both queues', async () => {
  const bus = await up(Ours)
  const name = uniqName('grace')
  const s = bus.service(name)
  let pendingReply = null
  s.on('request', (data, reply) => { pendingReply = reply })
  await withTimeout(new Promise((resolve) => s.serve(resolve)), 5000, 'serve')
  assert.equal(s.isServing(), true)
  const c = bus.service(name)
  await withTimeout(new Promise((resolve) => c.connect(resolve)), 5000, 'connect')
  const answer = new Promise((resolve) => c.request('q', { reqTimeout: 5000 }, (err, r) => resolve([err, r])))
  await waitFor(() => pendingReply, 3000, 10, 'request at the server')
  const gone = captureEvent(s, 'disconnect', 5000)
  s.disconnect(3000)
  await waitFor(() => !s.isServing(), 3000, 10, 'serving stopped')
  pendingReply(null, 'late but delivered')
  assert.deepEqual(await answer, [null, 'late but delivered'])
  await gone
  const cgone = captureEvent(c, 'disconnect', 3000)
  c.disconnect()
  await cgone
  assert.equal(c.isConnected(), false)
})

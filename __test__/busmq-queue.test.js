'use strict'
// busmq queues on a private redis-server: attach, push, consume, stop, close, queries, expiry.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Bus = require('../busmq')
const { startRedis, redisCli, online, collect, call, captureEvent, waitFor, uniqName } = require('./busmq-helpers')

let redis
const buses = []
before(async () => { redis = await startRedis() })
after(async () => {
  for (const bus of buses) bus.disconnect()
  await redis.stop()
})

async function connected () {
  const bus = Bus.create({ redis: [redis.url] })
  buses.push(bus)
  const up = online(bus)
  bus.connect()
  await up
  return bus
}

async function attached (bus, name, opts) {
  const q = bus.queue(name)
  const ev = captureEvent(q, 'attached', 3000)
  q.attach(opts)
  const [existed] = await ev
  return { q, existed }
}

test('pushed strings, objects and numbers are consumed in order as raw strings with numeric ids', async () => {
  const bus = await connected()
  const name = uniqName('q')
  const { q } = await attached(bus, name)
  const ids = []
  for (const m of ['a', { hello: 'world' }, 42]) ids.push(call((cb) => q.push(m, cb)))
  assert.deepEqual(await Promise.all(ids), [1, 2, 3])
  const c = collect(q, 3)
  q.consume()
  assert.deepEqual(await c.done, [['a', 1], ['{"hello":"world"}', 2], ['42', 3]])
  assert.equal(q.consumed(), 3)
  assert.equal(q.pushed(), 3)
  assert.equal(q.isConsuming(), true)
  const off = captureEvent(q, 'consuming')
  q.stop()
  assert.deepEqual(await off, [false])
})

test('plain pops are one BLMPOP (Redis 7+) or LPOP <count> (6.2+) each, no script, and deliver whole pairs in order', async () => {
  const bus = await connected()
  const { q } = await attached(bus, uniqName('lpop'))
  const counted = (stats, cmd) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] || 0)
  const major = Number(/redis_version:(\d+)/.exec(await redisCli(redis.port, 'INFO', 'server'))[1])
  await redisCli(redis.port, 'CONFIG', 'RESETSTAT')
  const ids = await Promise.all(['a', 'b', 'c', 'd'].map((m) => call((cb) => q.push(m, cb))))
  const c = collect(q, 4)
  q.consume()
  assert.deepEqual(await c.done, ['a', 'b', 'c', 'd'].map((m, i) => [m, ids[i]]))
  const stats = await redisCli(redis.port, 'INFO', 'commandstats')
  // The pop script would have run 2 LPOPs per message and one more to find the list empty.
  const pops = counted(stats, 'lpop') + counted(stats, 'blmpop')
  assert.ok(pops >= 1 && pops <= 4, stats)
  if (major >= 7) assert.ok(counted(stats, 'blmpop') >= 1, stats)
  assert.equal(await call((cb) => q.count(cb)), 0)
  q.detach()
})

test('attach creates the queue (false), a second attacher finds it (true) and adopts its ttl', async () => {
  const bus = await connected()
  const name = uniqName('q')
  const first = await attached(bus, name, { ttl: 7 })
  assert.equal(first.existed, false)
  const second = await attached(bus, name, { ttl: 99 })
  assert.equal(second.existed, true)
  assert.equal(await call((cb) => second.q.ttl(cb)), 7)
  assert.equal(await redisCli(redis.port, 'HGET', `bus:queue:${name}:metadata`, 'source'), 'local')
})

test('every key a queue writes carries an expiry', async () => {
  const bus = await connected()
  const name = uniqName('q')
  const { q } = await attached(bus, name, { ttl: 20 })
  await call((cb) => q.push('x', cb))
  await call((cb) => q.metadata('owner', 'me', cb))
  for (const key of ['metadata', 'messages', 'msgid']) {
    const ttl = Number(await redisCli(redis.port, 'TTL', `bus:queue:${name}:${key}`))
    assert.ok(ttl > 0 && ttl <= 20, `${key} ttl ${ttl}`)
  }
  const keys = (await redisCli(redis.port, 'KEYS', '*')).split('\n').filter(Boolean)
  for (const key of keys) {
    assert.notEqual(await redisCli(redis.port, 'TTL', key), '-1', `${key} has no expiry`)
  }
})

test('count, exists, ttl, maxsize, flush and metadata answer through callbacks', async () => {
  const bus = await connected()
  const name = uniqName('q')
  const probe = bus.queue(name)
  assert.equal(await call((cb) => probe.exists(cb)), false)
  const { q } = await attached(bus, name, { ttl: 15, maxsize: 100 })
  assert.equal(await call((cb) => q.exists(cb)), true)
  for (let i = 0; i < 5; i++) q.push('m' + i)
  await waitFor(async () => (await call((cb) => q.count(cb))) === 5, 3000, 20, 'count 5')
  assert.equal(await call((cb) => q.ttl(cb)), 15)
  assert.equal(await call((cb) => q.maxsize(cb)), 100)
  await call((cb) => q.metadata('color', 'blue', cb))
  await call((cb) => q.metadata({ size: 3, shape: 'round' }, cb))
  assert.equal(await call((cb) => q.metadata('color', cb)), 'blue')
  assert.equal(await call((cb) => q.metadata('missing', cb)), null)
  const all = await call((cb) => q.metadata(cb))
  assert.equal(all.color, 'blue')
  assert.equal(all.size, '3')
  assert.equal(all.ttl, '15')
  await call((cb) => q.flush(cb))
  assert.equal(await call((cb) => q.count(cb)), 0)
})

test('consume({ max }) stops after max; consume({ remove: false }) leaves messages in place', async () => {
  const bus = await connected()
  const { q } = await attached(bus, uniqName('q'))
  for (let i = 0; i < 10; i++) q.push('m' + i)
  await waitFor(async () => (await call((cb) => q.count(cb))) === 10, 3000, 20, 'count 10')
  const peeked = collect(q, 10)
  q.consume({ remove: false })
  await peeked.done
  assert.equal(await call((cb) => q.count(cb)), 10)
  const stopped = captureEvent(q, 'consuming')
  q.stop()
  await stopped
  q.removeAllListeners('message')
  const got = []
  q.on('message', (m) => got.push(m))
  const off = new Promise((resolve) => q.on('consuming', (on) => { if (!on) resolve() }))
  q.consume({ max: 4 })
  await off
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3'])
  assert.equal(await call((cb) => q.count(cb)), 6)
})

test('a full queue (maxsize) answers push with null and keeps its size', async () => {
  const bus = await connected()
  const { q } = await attached(bus, uniqName('q'), { maxsize: 2 })
  const ids = await Promise.all(['a', 'b', 'c'].map((m) => call((cb) => q.push(m, cb))))
  assert.deepEqual(ids, [1, 2, null])
  assert.equal(await call((cb) => q.count(cb)), 2)
})

test('calls made before connect() and before online wait for it', async () => {
  const bus = Bus.create()
  buses.push(bus)
  const name = uniqName('q')
  const q = bus.queue(name)
  const events = []
  for (const e of ['attaching', 'attached']) q.on(e, () => events.push(e))
  q.attach()
  const id = call((cb) => q.push('early', cb))
  const c = collect(q, 1)
  q.consume()
  bus.connect(redis.url) // the seed README's form
  assert.equal(await id, 1)
  assert.deepEqual(await c.done, [['early', 1]])
  assert.deepEqual(events, ['attaching', 'attached'])
  assert.equal(bus.isOnline(), true)
})

test('stop() while pops are in flight loses nothing: delivered + left in Redis = pushed', async () => {
  const bus = await connected()
  const name = uniqName('q')
  const { q } = await attached(bus, name)
  const total = 3000
  for (let i = 0; i < total; i++) q.push('m' + i)
  await waitFor(async () => (await call((cb) => q.count(cb))) === total, 5000, 20, 'all pushed')
  const got = []
  q.on('message', (m) => {
    got.push(m)
    if (got.length === 1) q.stop()
  })
  const off = new Promise((resolve) => q.on('consuming', (on) => { if (!on) resolve() }))
  q.consume()
  await off
  const left = await call((cb) => q.count(cb))
  assert.ok(got.length >= 1 && got.length < total, `delivered ${got.length}`)
  assert.equal(got.length + left, total)
  assert.deepEqual(got, got.map((_, i) => 'm' + i))
})

test('an idle consumer waits in BLMPOP; stop() ends the wait at once and a message pushed meanwhile is delivered or kept', async () => {
  const [bus, other] = [await connected(), await connected()]
  for (let round = 0; round < 20; round++) {
    const name = uniqName('block')
    const [{ q }, { q: producer }] = [await attached(bus, name), await attached(other, name)]
    const got = []
    q.on('message', (m) => got.push(m))
    q.consume()
    await waitFor(async () => /cmd=blmpop/.test(await redisCli(redis.port, 'CLIENT', 'LIST')), 5000, 5, 'a blocking pop')
    const off = captureEvent(q, 'consuming', 2000)
    const t0 = Date.now()
    // The push reaches Redis before, during or after the unblock: the message is delivered or stays.
    producer.push('m' + round)
    setTimeout(() => q.stop(), round % 3)
    assert.deepEqual(await off, [false])
    assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms (the BLMPOP timeout?)`)
    await waitFor(async () => (await call((cb) => q.count(cb))) + got.length === 1, 2000, 10, `round ${round}: delivered ${got.length}`)
    assert.ok(got.every((m) => m === 'm' + round), got.join())
    q.detach()
    producer.detach()
  }
})

test('close() deletes the keys and emits closed; close() when not attached is an error with a code', async () => {
  const bus = await connected()
  const name = uniqName('q')
  const { q } = await attached(bus, name)
  await call((cb) => q.push('x', cb))
  const order = []
  for (const e of ['detaching', 'detached', 'closed']) q.on(e, () => order.push(e))
  const closed = captureEvent(q, 'closed')
  q.close()
  await closed
  assert.deepEqual(order, ['detaching', 'detached', 'closed'])
  assert.equal(await redisCli(redis.port, 'EXISTS', `bus:queue:${name}:metadata`, `bus:queue:${name}:messages`), '0')
  const err = captureEvent(q, 'error')
  q.close()
  const [e] = await err
  assert.ok(e instanceof Error)
  assert.equal(e.code, 'ENOTCONN')
  assert.equal(e.message, 'error closing queue: not attached')
})

test('attaching twice and connecting twice are errors with busmq texts and codes', async () => {
  const bus = await connected()
  const { q } = await attached(bus, uniqName('q'))
  const err = captureEvent(q, 'error')
  q.attach()
  const [e] = await err
  assert.equal(e.code, 'EALREADY')
  assert.equal(e.message, 'cannot attach to queue: already attached')
  const busErr = captureEvent(bus, 'error')
  bus.connect()
  const [b] = await busErr
  assert.equal(b.code, 'EALREADY')
  assert.ok(b == 'already connected') // eslint-disable-line eqeqeq
})

test('detach() emits detaching then detached and stops consuming; disconnect() emits offline', async () => {
  const bus = await connected()
  const { q } = await attached(bus, uniqName('q'))
  q.consume()
  await captureEvent(q, 'consuming')
  const order = []
  for (const e of ['detaching', 'consuming', 'detached']) q.on(e, (v) => order.push(v === undefined ? e : `${e}:${v}`))
  const detached = captureEvent(q, 'detached')
  q.detach()
  await detached
  assert.deepEqual(order, ['detaching', 'consuming:false', 'detached'])
  assert.equal(q.isAttached(), false)
  const off = captureEvent(bus, 'offline')
  bus.disconnect()
  await off
  assert.equal(bus.isOnline(), false)
})

test('reliable consume: unacked messages come back to the next reliable consumer, acked ones never', async () => {
  const [busA, busB] = [await connected(), await connected()]
  const name = uniqName('rel')
  const { q } = await attached(busA, name)
  for (let i = 1; i <= 6; i++) q.push('m' + i)
  await waitFor(async () => (await call((cb) => q.count(cb))) === 6, 3000, 20, 'count 6')
  const first = collect(q, 6)
  q.consume({ reliable: true })
  assert.deepEqual((await first.done).map((g) => g[1]), [1, 2, 3, 4, 5, 6])
  q.ack(3)
  await call((cb) => q.count(cb)) // the same connection: the ack has run
  const off = captureEvent(q, 'consuming')
  q.stop()
  await off
  assert.equal(await redisCli(redis.port, 'LLEN', `bus:queue:${name}:toack`), '6', 'three unacked pairs')
  const { q: q2 } = await attached(busB, name)
  const again = collect(q2, 3)
  q2.consume({ reliable: true, last: 3 })
  assert.deepEqual(await again.done, [['m4', 4], ['m5', 5], ['m6', 6]])
  const more = captureEvent(q2, 'message')
  q.push('m7')
  assert.deepEqual(await more, ['m7', 7])
  q2.ack(7)
  await call((cb) => q2.count(cb))
  assert.equal(await redisCli(redis.port, 'LLEN', `bus:queue:${name}:toack`), '0')
  const ttl = Number(await redisCli(redis.port, 'TTL', `bus:queue:${name}:messages`))
  assert.ok(ttl !== -1, 'restored messages keep an expiry')
})

test('withRedis() takes the settings of an ioredis or node-redis client object', async () => {
  const IORedis = require('ioredis')
  const io = new IORedis({ host: '127.0.0.1', port: redis.port, lazyConnect: true })
  const a = Bus.create().withRedis(io)
  buses.push(a)
  let up = online(a)
  a.connect()
  await up
  // node-redis 2.8 as busmq installs it (hoisted or under busmq, depending on the tree).
  const nodeRedisPath = require.resolve('redis', { paths: [require('node:path').dirname(require.resolve('busmq'))] })
  const nodeRedis = require(nodeRedisPath).createClient(redis.port, '127.0.0.1')
  try {
    const b = Bus.create().withLog(console).withRedis(nodeRedis)
    buses.push(b)
    assert.equal(b.logger, console)
    up = online(b)
    b.connect()
    await up
  } finally {
    nodeRedis.quit()
    io.disconnect()
  }
})

test('a discoverable queue announces itself on bus:pubsub:bus:notifications', async () => {
  const IORedis = require('ioredis')
  const sub = new IORedis({ host: '127.0.0.1', port: redis.port })
  try {
    await sub.subscribe('bus:pubsub:bus:notifications')
    const heard = new Promise((resolve) => sub.on('message', (_, m) => resolve(JSON.parse(m))))
    const bus = await connected()
    const name = uniqName('disc')
    await attached(bus, name, { ttl: 6, discoverable: true })
    const notice = await withTimeoutP(heard, 3000)
    assert.deepEqual(notice, { event: 'queue', key: `bus:queue:${name}:metadata`, ttl: 6 })
  } finally {
    sub.disconnect()
  }
})

function withTimeoutP (p, ms) {
  return require('./helpers').withTimeout(p, ms, 'notice')
}

test('promisify() turns queue calls into promises (busmq 3.1)', async () => {
  const bus = await connected()
  const { q } = await attached(bus, uniqName('prom'))
  const p = q.promisify()
  assert.equal(p, q)
  assert.equal(await q.push('one'), 1)
  assert.equal(await q.count(), 1)
  assert.equal(await q.exists(), true)
  await q.metadata('k', 'v')
  assert.equal(await q.metadata('k'), 'v')
  await q.ack(1)
  await q.flush()
  assert.equal(await q.count(), 0)
})

test('disconnect() right after pushes: every push is answered and in Redis; nothing sent is dropped', async () => {
  const bus = Bus.create({ redis: redis.url })
  const up = online(bus)
  bus.connect()
  await up
  const name = uniqName('bye')
  const { q } = await attached(bus, name)
  const ids = []
  for (let i = 0; i < 2000; i++) ids.push(call((cb) => q.push('m' + i, cb), 5000))
  const offline = captureEvent(bus, 'offline', 5000)
  bus.disconnect()
  assert.deepEqual(await Promise.all(ids), Array.from({ length: 2000 }, (_, i) => i + 1))
  await offline
  assert.equal(await redisCli(redis.port, 'LLEN', `bus:queue:${name}:messages`), '4000')
})

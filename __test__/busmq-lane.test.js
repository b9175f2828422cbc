'use strict'
// The fast lane (src/busmq/lane/): pushes and blocking pops on the JS thread's own loop. What a
// busmq user observes must not change: a queue's calls keep their order around lane pushes,
// close() deletes what was pushed before it, `max` bounds a consumer, a flushed script cache is
// survived, and ZMQBUS_THREAD=runtime turns the lane off.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Bus = require('../busmq')
const { startRedis, redisCli, online, call, captureEvent, waitFor, uniqName } = require('./busmq-helpers')

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

async function attached (bus, name) {
  const q = bus.queue(name)
  const ev = captureEvent(q, 'attached', 3000)
  q.attach()
  await ev
  return q
}

/** Resolves once the lane's push connection takes pushes (it connects beside the loop's). */
async function laneReady (q) {
  await waitFor(async () => {
    await call((cb) => q.push('probe', cb))
    return q._lanePending === 0 && q.bus._handle.pushFast(0, 'unused-' + q.name, 30, 0, 0, 'x')
  }, 3000, 10, 'the lane to take pushes')
  await call((cb) => q.flush(cb))
}

test('with one plain url the bus has a lane, and pushes take it', async () => {
  const bus = await connected()
  assert.equal(bus._lane, true)
  const q = await attached(bus, uniqName('lane'))
  await laneReady(q)
  q.push('a')
  assert.equal(q._lanePending, 1, 'the push went to the lane')
  await waitFor(() => q._lanePending === 0, 2000, 5, 'the lane push answered')
  assert.equal(await call((cb) => q.count(cb)), 1)
})

test('a count() right after lane pushes sees every one of them', async () => {
  const bus = await connected()
  const q = await attached(bus, uniqName('order'))
  await laneReady(q)
  for (let i = 1; i <= 50; i++) {
    q.push('m' + i)
    assert.equal(await call((cb) => q.count(cb)), i)
  }
})

test("close() right after a lane push deletes it (busmq's order: push, then close)", async () => {
  const bus = await connected()
  const name = uniqName('close')
  const q = await attached(bus, name)
  await laneReady(q)
  const closed = captureEvent(q, 'closed', 3000)
  q.push('doomed')
  q.close()
  await closed
  assert.equal(await redisCli(redis.port, 'EXISTS', `bus:queue:${name}:messages`), '0')
})

test('pushes interleaved with queries reach a consumer in push order, with ids in order', async () => {
  const [producerBus, consumerBus] = [await connected(), await connected()]
  const name = uniqName('mixed')
  const [p, c] = [await attached(producerBus, name), await attached(consumerBus, name)]
  await laneReady(p)
  const got = []
  c.on('message', (m, id) => got.push([m, id]))
  c.consume()
  const ids = []
  const counts = []
  for (let i = 0; i < 1000; i++) {
    ids.push(call((cb) => p.push('m' + i, cb), 5000))
    if (i % 100 === 99) counts.push(call((cb) => p.ttl(cb), 5000))
  }
  const answered = await Promise.all(ids)
  await Promise.all(counts)
  assert.deepEqual(answered, [...answered].sort((a, b) => a - b), 'ids in push order')
  await waitFor(() => got.length === 1000, 5000, 10, '1000 messages')
  assert.deepEqual(got.map(([m]) => m), Array.from({ length: 1000 }, (_, i) => 'm' + i))
  assert.deepEqual(got.map(([, id]) => id), answered)
})

test('a consumer with max on the lane takes exactly max messages, then stops', async () => {
  const bus = await connected()
  const name = uniqName('max')
  const q = await attached(bus, name)
  for (let i = 0; i < 20; i++) await call((cb) => q.push('m' + i, cb))
  const got = []
  q.on('message', (m) => got.push(m))
  const off = new Promise((resolve) => q.on('consuming', (on) => { if (!on) resolve() }))
  q.consume({ max: 5 })
  await off
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4'])
  assert.equal(await call((cb) => q.count(cb)), 15)
})

test('an idle consumer waits in BLMPOP on a lane connection and gets a push at once', async () => {
  const [producerBus, consumerBus] = [await connected(), await connected()]
  const name = uniqName('idle')
  const [p, c] = [await attached(producerBus, name), await attached(consumerBus, name)]
  const got = []
  c.on('message', (m) => got.push(m))
  c.consume()
  await waitFor(async () => /cmd=blmpop/.test(await redisCli(redis.port, 'CLIENT', 'LIST')), 3000, 5, 'a blocking pop')
  assert.equal(consumerBus._lane, true)
  for (let i = 0; i < 20; i++) {
    p.push('m' + i)
    await waitFor(() => got.length === i + 1, 2000, 1, `message ${i}`)
  }
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => 'm' + i))
})

test('a flushed script cache: lane pushes fall back to EVAL and stay in order', async () => {
  const bus = await connected()
  const name = uniqName('noscript')
  const q = await attached(bus, name)
  await laneReady(q)
  await redisCli(redis.port, 'SCRIPT', 'FLUSH')
  const ids = []
  for (let i = 0; i < 100; i++) ids.push(call((cb) => q.push('m' + i, cb)))
  const answered = await Promise.all(ids)
  assert.deepEqual(answered, Array.from({ length: 100 }, (_, i) => answered[0] + i))
  const stored = await redisCli(redis.port, 'LRANGE', `bus:queue:${name}:messages`, '0', '-1')
  const payloads = stored.split('\n').filter((_, i) => i % 2 === 1)
  assert.deepEqual(payloads, Array.from({ length: 100 }, (_, i) => 'm' + i))
})

test('ZMQBUS_THREAD=runtime: no lane, and queues work as before', async () => {
  const saved = process.env.ZMQBUS_THREAD
  process.env.ZMQBUS_THREAD = 'runtime'
  let bus
  try {
    bus = await connected()
  } finally {
    if (saved === undefined) delete process.env.ZMQBUS_THREAD
    else process.env.ZMQBUS_THREAD = saved
  }
  assert.equal(bus._lane, false)
  const q = await attached(bus, uniqName('runtime'))
  assert.equal(await call((cb) => q.push('a', cb)), 1)
  assert.equal(q._lanePending, 0)
  assert.equal(await call((cb) => q.count(cb)), 1)
  // A query waits for the pushes made before it, here too (it once ran ahead of a burst: 0).
  for (let i = 0; i < 3000; i++) q.push('b' + i)
  assert.equal(await call((cb) => q.count(cb), 5000), 3001)
})

test('a consumer behind a burst of pushes gets every message, in order (its lane pops wait for JS, then go on)', async () => {
  const [producerBus, consumerBus] = [await connected(), await connected()]
  const name = uniqName('burst')
  const [p, c] = [await attached(producerBus, name), await attached(consumerBus, name)]
  const got = []
  c.on('message', (m) => got.push(m))
  const on = captureEvent(c, 'consuming', 3000)
  c.consume()
  await on
  for (let round = 0; round < 5; round++) {
    const acks = []
    for (let i = 0; i < 2000; i++) acks.push(call((cb) => p.push(`r${round}m${i}`, cb), 5000))
    await Promise.all(acks)
    await waitFor(() => got.length === 2000 * (round + 1), 5000, 5, `round ${round}: ${got.length} delivered`)
  }
  const want = []
  for (let round = 0; round < 5; round++) for (let i = 0; i < 2000; i++) want.push(`r${round}m${i}`)
  assert.deepEqual(got, want)
})

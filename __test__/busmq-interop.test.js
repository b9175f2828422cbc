'use strict'
// Our queues and real busmq 3.1 (npm) on one redis-server: each side feeds the other, and the
// seed README's queue example runs unchanged against our module.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Ours = require('../busmq')
const Theirs = require('busmq')
const { startRedis, redisCli, waitFor, online, collect, call, captureEvent, uniqName } = require('./busmq-helpers')

let redis
const buses = []
before(async () => { redis = await startRedis() })
const opened = [] // queues and channels, closed before their buses (busmq's timers hold the process)
after(async () => {
  for (const o of opened) (o.end ? o.disconnect() : o.detach())
  for (const bus of buses) bus.disconnect()
  await redis.stop()
})

async function up (Module) {
  const bus = Module.create({ redis: [redis.url] })
  bus.on('error', (err) => { throw new Error('bus error: ' + err) })
  buses.push(bus)
  for (const kind of ['queue', 'channel']) {
    const make = bus[kind].bind(bus)
    bus[kind] = (...args) => { const o = make(...args); opened.push(o); return o }
  }
  const ready = online(bus)
  bus.connect()
  await ready
  return bus
}

async function attachedQueue (bus, name) {
  const q = bus.queue(name)
  const ready = captureEvent(q, 'attached', 3000)
  q.attach()
  await ready
  return q
}

const N = 500

test('a busmq 3.1 producer feeds our consumer: every message, in order, same ids', async () => {
  const [theirs, ours] = [await up(Theirs), await up(Ours)]
  const name = uniqName('interop')
  const producer = await attachedQueue(theirs, name)
  const consumer = await attachedQueue(ours, name)
  const c = collect(consumer, N + 1, 10000)
  consumer.consume()
  await captureEvent(consumer, 'consuming')
  const ids = []
  for (let i = 0; i < N; i++) ids.push(call((cb) => producer.push('m' + i, cb)))
  ids.push(call((cb) => producer.push({ k: 1 }, cb)))
  const pushedIds = await Promise.all(ids)
  const got = await c.done
  assert.deepEqual(got.map((g) => g[0]), [...Array.from({ length: N }, (_, i) => 'm' + i), '{"k":1}'])
  assert.deepEqual(got.map((g) => g[1]), pushedIds.map(Number))
})

test('a busmq 3.1 producer feeds our consumer waiting in BLMPOP and a busmq 3.1 consumer of the same queue: each message once, whole', async () => {
  const [theirs, ours, theirs2] = [await up(Theirs), await up(Ours), await up(Theirs)]
  const name = uniqName('interop')
  const producer = await attachedQueue(theirs, name)
  const [mine, their] = [await attachedQueue(ours, name), await attachedQueue(theirs2, name)]
  const got = new Map()
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.size} of ${N}`)), 10000)
    const take = (who) => (m, id) => {
      assert.equal(got.has(m), false, `${m} delivered twice`)
      got.set(m, [who, Number(id)])
      if (got.size === N) { clearTimeout(timer); resolve() }
    }
    mine.on('message', take('ours'))
    their.on('message', take('theirs'))
  })
  const blocked = await blockedNow()
  mine.consume()
  their.consume()
  await captureEvent(mine, 'consuming')
  await waitBlocked(blocked + 1)
  const ids = []
  for (let i = 0; i < N; i++) ids.push(call((cb) => producer.push('m' + i, cb)))
  const pushedIds = (await Promise.all(ids)).map(Number)
  await done
  // Every payload arrived with its own id: pairs were never split between consumers.
  for (let i = 0; i < N; i++) assert.equal(got.get('m' + i)[1], pushedIds[i])
  assert.ok([...got.values()].some(([who]) => who === 'ours'), 'ours took none')
})

/** Clients waiting in BLMPOP now. */
async function blockedNow () {
  return (await redisCli(redis.port, 'CLIENT', 'LIST')).split('\n').filter((l) => /cmd=blmpop/.test(l)).length
}

/** `n` clients wait in BLMPOP (Redis 7+ only; older servers pop after notifications). */
async function waitBlocked (n) {
  const major = Number(/redis_version:(\d+)/.exec(await redisCli(redis.port, 'INFO', 'server'))[1])
  if (major < 7) return
  await waitFor(async () => (await blockedNow()) >= n, 5000, 5, 'a blocking pop')
}

/** Subscribers of `channel` now. */
async function subscribers (channel) {
  return Number((await redisCli(redis.port, 'PUBSUB', 'NUMSUB', channel)).split('\n').pop())
}

test('our consumer on the lane leaves the channel while it waits in BLMPOP, and a busmq 3.1 producer still feeds it, also after the lane connection is killed', async () => {
  const [theirs, ours] = [await up(Theirs), await up(Ours)]
  const name = uniqName('mute')
  const channel = `bus:queue:${name}:available`
  const producer = await attachedQueue(theirs, name)
  const consumer = await attachedQueue(ours, name)
  assert.equal(ours._lane, true)
  const c = collect(consumer, 2 * N, 20000)
  const blocked = await blockedNow()
  consumer.consume()
  await waitBlocked(blocked + 1)
  const major = Number(/redis_version:(\d+)/.exec(await redisCli(redis.port, 'INFO', 'server'))[1])
  if (major >= 7) await waitFor(async () => (await subscribers(channel)) === 0, 5000, 5, 'the channel muted')
  const ids = []
  for (let i = 0; i < N; i++) ids.push(await call((cb) => producer.push('m' + i, cb)))
  await waitFor(() => c.got.length === N, 10000, 5, 'the first half')
  // The lane's pop connection dies: the consumer listens on the channel again (plain pops).
  // Earlier tests' consumers may wait in BLMPOP too, and under load ours may be between two pops: wait
  // (bounded) until ours waits again, then kill every pop connection, so ours is surely among them.
  await waitBlocked(blocked + 1)
  const lines = (await redisCli(redis.port, 'CLIENT', 'LIST')).split('\n').filter((l) => /cmd=blmpop/.test(l))
  for (const l of lines) await redisCli(redis.port, 'CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(l)[1])
  await waitFor(async () => (await subscribers(channel)) === 1, 5000, 5, 'the channel subscribed again')
  for (let i = N; i < 2 * N; i++) ids.push(await call((cb) => producer.push('m' + i, cb)))
  const got = await c.done
  assert.deepEqual(got.map((g) => g[0]), Array.from({ length: 2 * N }, (_, i) => 'm' + i))
  assert.deepEqual(got.map((g) => Number(g[1])), ids.map(Number))
  const stopped = captureEvent(consumer, 'consuming')
  consumer.stop()
  assert.deepEqual(await stopped, [false])
  await waitFor(async () => (await subscribers(channel)) === 0, 5000, 5, 'the channel left after stop()')
})

test('our producer feeds a busmq 3.1 consumer: every message, in order', async () => {
  const [theirs, ours] = [await up(Theirs), await up(Ours)]
  const name = uniqName('interop')
  const consumer = await attachedQueue(theirs, name)
  const producer = await attachedQueue(ours, name)
  const got = []
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`busmq got ${got.length} of ${N}`)), 10000)
    consumer.on('message', (m, id) => {
      got.push([m, Number(id)])
      if (got.length === N) { clearTimeout(timer); resolve() }
    })
  })
  consumer.consume()
  const ids = []
  for (let i = 0; i < N; i++) ids.push(call((cb) => producer.push('m' + i, cb)))
  const pushedIds = await Promise.all(ids)
  await done
  assert.deepEqual(got.map((g) => g[0]), Array.from({ length: N }, (_, i) => 'm' + i))
  assert.deepEqual(got.map((g) => g[1]), pushedIds)
})

test('a queue created by busmq is found by ours (attached true, its ttl) and the other way round', async () => {
  const [theirs, ours] = [await up(Theirs), await up(Ours)]
  const a = uniqName('made-by-busmq')
  const q1 = theirs.queue(a)
  const made = captureEvent(q1, 'attached')
  q1.attach({ ttl: 12 })
  assert.deepEqual(await made, [false])
  const q2 = ours.queue(a)
  const found = captureEvent(q2, 'attached')
  q2.attach()
  assert.deepEqual(await found, [true])
  assert.equal(await call((cb) => q2.ttl(cb)), 12)
  const b = uniqName('made-by-us')
  const q3 = ours.queue(b)
  const made2 = captureEvent(q3, 'attached')
  q3.attach({ ttl: 9 })
  assert.deepEqual(await made2, [false])
  const q4 = theirs.queue(b)
  const found2 = captureEvent(q4, 'attached')
  q4.attach()
  assert.deepEqual(await found2, [true])
  assert.equal(await call((cb) => q4.ttl(cb)), 9)
})

test('reliable mode across implementations: busmq 3.1 gets back what our consumer did not ack', async () => {
  const [theirs, ours] = [await up(Theirs), await up(Ours)]
  const name = uniqName('reliable')
  const producer = await attachedQueue(ours, name)
  for (let i = 1; i <= 5; i++) producer.push('r' + i)
  const consumer = await attachedQueue(ours, name)
  const c = collect(consumer, 5)
  consumer.consume({ reliable: true })
  await c.done
  consumer.ack(2)
  await call((cb) => consumer.count(cb))
  const off = captureEvent(consumer, 'consuming')
  consumer.stop()
  await off
  const theirsQ = await attachedQueue(theirs, name)
  const got = []
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`busmq got ${got.length} of 3`)), 5000)
    theirsQ.on('message', (m, id) => {
      got.push([m, Number(id)])
      if (got.length === 3) { clearTimeout(timer); resolve() }
    })
  })
  theirsQ.consume({ reliable: true, last: 2 })
  await done
  assert.deepEqual(got, [['r3', 3], ['r4', 4], ['r5', 5]])
})

test("the seed README's producer and consumer run unchanged on our module", async () => {
  const Bus = Ours
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('seed example did not finish')), 8000)
    const messages = []
    // --- consumer, as in the README ---
    const bus = Bus.create()
    buses.push(bus)
    bus.on('error', function (err) { reject(err) })
    bus.on('online', function () {
      const q = bus.queue('foo')
      q.on('attached', function () {
        q.consume()
      })
      q.on('message', function (message) {
        messages.push(message)
        if (message === 'my name if foo') {
          q.detach()
          clearTimeout(timer)
          resolve(messages)
        }
      })
      q.attach()
    })
    bus.connect(redis.url)
  })
  const producerDone = new Promise((resolve) => {
    // --- producer, as in the README ---
    const bus = Ours.create()
    buses.push(bus)
    bus.on('online', function () {
      const q = bus.queue('foo')
      q.on('attached', function () {
        q.push({ hello: 'world' })
        q.push('my name if foo')
        q.detach()
      })
      q.on('detached', resolve)
      q.attach()
    })
    bus.connect(redis.url)
  })
  await producerDone
  assert.deepEqual(await done, ['{"hello":"world"}', 'my name if foo'])
})

'use strict'
// Several Redis urls: a queue lives on the instance busmq 3.1 picks (an instance that already has
// it, else its metadata key's hash), so busmq's processes and ours meet on the same one. Two
// real redis-servers; the placement busmq chose is read back from the servers themselves.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Ours = require('../busmq')
const Theirs = require('busmq')
const { startRedis, redisCli, online, collect, call, captureEvent, uniqName, waitFor } = require('./busmq-helpers')

let servers
const buses = []
const opened = []
before(async () => { servers = [await startRedis(), await startRedis()] })
after(async () => {
  for (const o of opened) o.detach()
  for (const bus of buses) bus.disconnect()
  for (const s of servers) await s.stop()
})

async function up (Module, urls = servers.map((s) => s.url)) {
  const bus = Module.create({ redis: urls })
  bus.on('error', (err) => { throw new Error('bus error: ' + err) })
  buses.push(bus)
  const make = bus.queue.bind(bus)
  bus.queue = (...args) => { const q = make(...args); opened.push(q); return q }
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

/** The index (of 2) that busmq 3.1's own `_connectionFor` picks for a new queue `name`. */
function busmqChoice (name) {
  const connectionFor = Object.getPrototypeOf(Theirs.create())._connectionFor
  return connectionFor.call({ connections: [0, 1] }, `bus:queue:${name}:metadata`)
}

/** A fresh queue name that busmq places on server `index`. */
function nameOn (index) {
  for (let i = 0; i < 1000; i++) {
    const name = uniqName('urls')
    if (busmqChoice(name) === index) return name
  }
  throw new Error('no name found for server ' + index)
}

/** Which servers hold key `key` (by asking each with redis-cli). */
async function holders (key) {
  const out = []
  for (let i = 0; i < servers.length; i++) {
    if (await redisCli(servers[i].port, 'EXISTS', key) === '1') out.push(i)
  }
  return out
}

const N = 200

for (const index of [0, 1]) {
  test(`busmq producer -> our consumer, queue hashed to server ${index}: same server, every message`, async () => {
    const [theirs, ours] = [await up(Theirs), await up(Ours)]
    const name = nameOn(index)
    const producer = await attachedQueue(theirs, name)
    const consumer = await attachedQueue(ours, name)
    const c = collect(consumer, N, 10000)
    consumer.consume()
    const ids = []
    for (let i = 0; i < N; i++) ids.push(call((cb) => producer.push('m' + i, cb)))
    const pushed = await Promise.all(ids)
    const got = await c.done
    assert.deepEqual(got.map((g) => g[0]), Array.from({ length: N }, (_, i) => 'm' + i))
    assert.deepEqual(got.map((g) => g[1]), pushed.map(Number))
    assert.deepEqual(await holders(`bus:queue:${name}:metadata`), [index])
  })

  test(`our producer -> busmq consumer, queue hashed to server ${index}: we create it where busmq looks`, async () => {
    const [ours, theirs] = [await up(Ours), await up(Theirs)]
    const name = nameOn(index)
    // Ours creates the queue first, so the placement is ours alone.
    const producer = await attachedQueue(ours, name)
    assert.deepEqual(await holders(`bus:queue:${name}:metadata`), [index])
    const consumer = await attachedQueue(theirs, name)
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
    const pushed = await Promise.all(ids)
    await done
    assert.deepEqual(got.map((g) => g[0]), Array.from({ length: N }, (_, i) => 'm' + i))
    assert.deepEqual(got.map((g) => g[1]), pushed)
    assert.deepEqual(await holders(`bus:queue:${name}:messages`), [])
  })
}

test('a queue that already lives on the server its hash does not pick is found there (EXISTS first)', async () => {
  const name = nameOn(0)
  // A bus that only knows server 1 creates the queue there and fills it.
  const lone = await up(Ours, [servers[1].url])
  const filler = await attachedQueue(lone, name)
  for (let i = 0; i < 5; i++) await call((cb) => filler.push('x' + i, cb))
  const ours = await up(Ours)
  const q = ours.queue(name)
  const attached = captureEvent(q, 'attached', 3000)
  q.attach()
  assert.deepEqual(await attached, [true])
  assert.equal(await call((cb) => q.count(cb)), 5)
  const c = collect(q, 5)
  q.consume()
  assert.deepEqual((await c.done).map((g) => g[0]), ['x0', 'x1', 'x2', 'x3', 'x4'])
  assert.deepEqual(await holders(`bus:queue:${name}:metadata`), [1])
})

test('queues spread over both servers; losing one server is silent, losing both is offline', async () => {
  const extra = [await startRedis(), await startRedis()]
  servers.push(...extra) // stopped in after() too, if a step below fails
  const urls = extra.map((s) => s.url)
  const ours = await up(Ours, urls)
  const [on0, on1] = [nameOn(0), nameOn(1)]
  const q0 = await attachedQueue(ours, on0)
  const q1 = await attachedQueue(ours, on1)
  assert.equal(await call((cb) => q0.push('a', cb)), 1)
  assert.equal(await call((cb) => q1.push('b', cb)), 1)
  assert.equal(await redisCli(extra[0].port, 'LLEN', `bus:queue:${on0}:messages`), '2')
  assert.equal(await redisCli(extra[1].port, 'LLEN', `bus:queue:${on1}:messages`), '2')
  let offline = 0
  ours.on('offline', () => offline++)
  ours.removeAllListeners('error')
  ours.on('error', () => {})
  await extra[1].stop()
  // The queue on the surviving server still works; no offline yet.
  assert.equal(await call((cb) => q0.push('c', cb)), 2)
  assert.equal(offline, 0)
  assert.equal(ours.isOnline(), true)
  await extra[0].stop()
  await waitFor(() => offline === 1, 8000, 20, 'offline after both servers went')
  assert.equal(ours.isOnline(), false)
})

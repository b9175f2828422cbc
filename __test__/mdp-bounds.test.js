'use strict'
// Backpressure in request/reply: a producer that outruns its workers meets bounds, not growth. The broker
// refuses a request beyond `maxQueue` waiting per service, or beyond `maxBytes` held in all, with
// C_QUEUE_FULL; a client refuses one beyond `maxPending` unanswered with C_PENDING_FULL. Refusals come
// back at once with their code, and what was accepted is still served.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Broker, Worker, Client } = require('..')
const { uniqAddress, withTimeout } = require('./helpers')

async function rig (t, brokerConf, clientConf) {
  const addr = await uniqAddress('tcp')
  const broker = new Broker(addr, Object.assign({ heartbeat: 200 }, brokerConf))
  await new Promise((resolve) => broker.start(resolve))
  const client = new Client(addr, Object.assign({ heartbeat: 200 }, clientConf))
  const connected = new Promise((resolve) => client.once('connect', resolve))
  client.start()
  await withTimeout(connected, 3000, 'client connect')
  const workers = []
  t.after(() => {
    client.stop()
    for (const w of workers) w.stop()
    broker.stop()
  })
  const serve = async (svc) => {
    const w = new Worker(addr, svc, { heartbeat: 200 })
    w.on('request', (n, reply) => reply.end(n))
    const up = new Promise((resolve) => w.once('connect', resolve))
    w.start()
    workers.push(w)
    await withTimeout(up, 3000, 'worker connect')
  }
  return { broker, client, serve }
}

// The broker publishes its stats once per heartbeat: wait for a snapshot that shows `ok`.
async function statsWhen (broker, ok) {
  const deadline = Date.now() + 2000
  let s = broker.stats()
  while (!ok(s) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    s = broker.stats()
  }
  return s
}

const outcome = (p) => p.then(() => 'ok', (err) => err.code)
const count = (xs, v) => xs.filter((x) => x === v).length

test('a service queue at maxQueue refuses more with C_QUEUE_FULL, and serves what it took', async (t) => {
  const { broker, client, serve } = await rig(t, { maxQueue: 50 })
  // No worker yet: 50 wait, the other 30 are refused at once.
  const calls = Array.from({ length: 80 }, (_, n) => outcome(client.call('svc', n, { timeout: 10000 })))
  const early = await withTimeout(Promise.all(calls.slice(50)), 2000, 'refusals')
  assert.deepEqual(early, Array(30).fill('C_QUEUE_FULL'))
  const s = await statsWhen(broker, (x) => x.droppedQueueFull === 30)
  assert.equal(s.queued, 50)
  // Another service has its own queue.
  const other = outcome(client.call('other', 1, { timeout: 10000 }))
  await serve('svc')
  await serve('other')
  assert.equal(count(await withTimeout(Promise.all(calls.slice(0, 50)), 5000, 'served'), 'ok'), 50)
  assert.equal(await withTimeout(other, 5000, 'other'), 'ok')
  assert.equal((await statsWhen(broker, (x) => x.heldBytes === 0)).heldBytes, 0)
})

test('maxBytes bounds the bytes of requests a broker holds, queued and at workers', async (t) => {
  const { broker, client, serve } = await rig(t, { maxBytes: 20000 })
  const big = 'x'.repeat(1000)
  const calls = Array.from({ length: 40 }, () => outcome(client.call('svc', big, { timeout: 10000 })))
  // About 1.1 kB each: fewer than 20 fit.
  await withTimeout(Promise.all(calls.slice(20)), 2000, 'refusals')
  const s = await statsWhen(broker, (x) => x.queued > 0)
  assert.ok(s.queued >= 15 && s.queued < 20, `queued ${s.queued}`)
  assert.ok(s.heldBytes <= 20000 && s.heldBytes > 15000, `heldBytes ${s.heldBytes}`)
  await serve('svc')
  const all = await withTimeout(Promise.all(calls), 5000, 'served')
  assert.equal(count(all, 'ok'), s.queued)
  assert.equal(count(all, 'C_QUEUE_FULL'), 40 - s.queued)
  assert.equal((await statsWhen(broker, (x) => x.heldBytes === 0)).heldBytes, 0)
})

test('a client at maxPending refuses more with C_PENDING_FULL and takes requests again as answers come', async (t) => {
  const { client, serve } = await rig(t, {}, { maxPending: 10 })
  const calls = Array.from({ length: 15 }, (_, n) => outcome(client.call('svc', n, { timeout: 10000 })))
  assert.equal(client.pending, 15)
  assert.deepEqual(await withTimeout(Promise.all(calls.slice(10)), 2000, 'refusals'), Array(5).fill('C_PENDING_FULL'))
  assert.equal(client.pending, 10)
  assert.equal(client.refusedPending, 5)
  await serve('svc')
  assert.deepEqual(await withTimeout(Promise.all(calls.slice(0, 10)), 5000, 'served'), Array(10).fill('ok'))
  assert.equal(client.pending, 0)
  assert.equal(await withTimeout(outcome(client.call('svc', 1)), 3000, 'again'), 'ok')
})

test('the bounds reject bad values and accept Infinity', () => {
  assert.throws(() => new Broker('tcp://127.0.0.1:1', { maxQueue: 0 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => new Broker('tcp://127.0.0.1:1', { maxBytes: 'lots' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => new Client('tcp://127.0.0.1:1', { maxPending: -1 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.equal(new Client('tcp://127.0.0.1:1', { maxPending: Infinity }).conf.maxPending, Infinity)
  assert.equal(new Broker('tcp://127.0.0.1:1', { maxQueue: Infinity, maxBytes: Infinity }).conf.maxQueue, Infinity)
})

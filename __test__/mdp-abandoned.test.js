'use strict'
// A worker that never answers half its requests must not grow the broker or itself without
// bound: once a request's timeout (plus a grace period) has passed, the broker lets it go
// (counted), the worker forgets it (reply.active() turns false), and a late answer is dropped
// without costing the worker its registration. The long version (a minute at 1,000 in flight,
// RSS) belongs to the fault suite.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Broker, Worker, Client } = require('..')
const { uniqAddress, withTimeout } = require('./helpers')

test('requests a silent worker holds past their timeout are let go on both sides', async (t) => {
  const addr = await uniqAddress('tcp')
  const broker = new Broker(addr, { heartbeat: 100 })
  await new Promise((resolve) => broker.start(resolve))
  const held = []
  const worker = new Worker(addr, 'svc', { heartbeat: 100, concurrency: -1 })
  worker.on('request', (n, reply) => {
    if (n % 2 === 0) reply.end(n)
    else held.push(reply) // never answered (until the late replies below)
  })
  const client = new Client(addr, { heartbeat: 100 })
  t.after(() => {
    client.stop()
    worker.stop()
    broker.stop()
  })
  const connected = Promise.all([
    new Promise((resolve) => worker.once('connect', resolve)),
    new Promise((resolve) => client.once('connect', resolve))
  ])
  worker.start()
  client.start()
  await withTimeout(connected, 3000, 'connect')

  const N = 200
  const results = await withTimeout(Promise.all(Array.from({ length: N }, (_, n) =>
    client.call('svc', n, { timeout: 300 }).then(() => 'ok', (err) => err.code))), 5000, 'replies')
  assert.equal(results.filter((r) => r === 'ok').length, N / 2)
  assert.equal(results.filter((r) => r === 'C_TIMEOUT').length, N / 2)
  assert.equal(held.length, N / 2)

  // Broker: timeout 300 + one heartbeat of grace, seen at the next tick.
  const deadline = Date.now() + 3000
  while (Date.now() < deadline && (broker.stats().inFlight > 0 || worker.reqs.size > 0)) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const s = broker.stats()
  assert.equal(s.inFlight, 0)
  assert.equal(s.abandoned, N / 2)
  assert.equal(worker.reqs.size, 0, 'the worker forgot them too')
  assert.ok(held.every((reply) => !reply.active()))

  // Late answers are dropped quietly; the worker keeps serving.
  for (const reply of held.slice(0, 10)) reply.end('late')
  assert.equal(await withTimeout(client.call('svc', 2, { timeout: 2000 }), 3000, 'after late replies'), 2)
  assert.equal(broker.stats().droppedProtocol, 0)
})

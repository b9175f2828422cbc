'use strict'
// layout: 'sentinels': the bus asks Redis Sentinel for the master of `redisOptions.name`, and
// follows a failover. Real servers on 127.0.0.1: a master, its replica and one sentinel
// (quorum 1); the failover test kills the master by its PID.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Ours = require('../busmq')
const Theirs = require('busmq')
const { startRedis, startSentinel, redisCli, online, collect, call, captureEvent, uniqName, waitFor } = require('./busmq-helpers')

let master, replica, sentinel
const buses = []
const opened = []
before(async () => {
  master = await startRedis(['--repl-diskless-sync-delay', '0'])
  replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
  await waitFor(async () => /slave0:.*state=online/.test(await redisCli(master.port, 'INFO', 'replication')),
    15000, 100, 'the replica to be in sync')
  sentinel = await startSentinel(master.port)
  // Failover needs the sentinel to know the replica (it learns it from the master's INFO).
  await waitFor(async () => (await redisCli(sentinel.port, 'SENTINEL', 'replicas', 'mymaster')).includes(String(replica.port)),
    15000, 200, 'sentinel to see the replica')
})
after(async () => {
  for (const q of opened) q.detach()
  for (const bus of buses) bus.disconnect()
  for (const s of [sentinel, replica, master]) if (s) await s.stop()
})

function viaSentinel (Module, extra = {}) {
  const bus = Module.create(Object.assign({
    redis: [sentinel.url],
    layout: 'sentinels',
    redisOptions: { name: 'mymaster' }
  }, extra))
  buses.push(bus)
  return bus
}

async function attached (bus, name) {
  const q = bus.queue(name)
  opened.push(q)
  const ok = captureEvent(q, 'attached', 5000)
  q.attach()
  await ok
  return q
}

test('through the sentinel our queue lands on the master, and a busmq (ioredis) producer feeds our consumer there', async () => {
  const ours = viaSentinel(Ours)
  const errors = []
  ours.on('error', (e) => errors.push(e))
  const up = online(ours, 8000)
  ours.connect()
  await up
  const theirs = viaSentinel(Theirs, { driver: 'ioredis' })
  theirs.on('error', () => {}) // ioredis reports sentinel chatter; the test checks the messages
  const theirsUp = online(theirs, 8000)
  theirs.connect()
  await theirsUp
  const name = uniqName('sentinel')
  const consumer = await attached(ours, name)
  const producer = await attached(theirs, name)
  const c = collect(consumer, 10, 5000)
  consumer.consume()
  for (let i = 0; i < 10; i++) await call((cb) => producer.push('s' + i, cb))
  assert.deepEqual((await c.done).map((g) => g[0]), Array.from({ length: 10 }, (_, i) => 's' + i))
  assert.equal(await redisCli(master.port, 'EXISTS', `bus:queue:${name}:metadata`), '1')
  assert.deepEqual(errors, [])
  // Gone before the failover test kills the master.
  consumer.detach()
  producer.detach()
  ours.disconnect()
  theirs.disconnect()
})

test('failover: the master is killed, the bus goes offline, comes back on the promoted replica and keeps the queue', async () => {
  const bus = viaSentinel(Ours)
  const errors = []
  bus.on('error', (e) => errors.push(e))
  const up = online(bus, 8000)
  bus.connect()
  await up
  const name = uniqName('failover')
  const q = await attached(bus, name)
  for (let i = 0; i < 5; i++) assert.equal(await call((cb) => q.push('before' + i, cb)), i + 1)
  // Replicated before the crash, so the promoted replica has them.
  await waitFor(async () => await redisCli(replica.port, 'LLEN', `bus:queue:${name}:messages`) === '10', 5000, 20, 'replication')
  const down = captureEvent(bus, 'offline', 10000)
  const back = new Promise((resolve) => down.then(() => bus.once('online', resolve)))
  await master.kill()
  await down
  assert.equal(bus.isOnline(), false)
  // Meanwhile pushes are held, not lost.
  const held = call((cb) => q.push('during', cb), 30000)
  await waitFor(async () => (await redisCli(sentinel.port, 'SENTINEL', 'get-master-addr-by-name', 'mymaster')).endsWith(String(replica.port)),
    20000, 200, 'sentinel to promote the replica')
  await back
  assert.equal(await held, 6)
  const c = collect(q, 7, 5000)
  q.consume()
  q.push('after')
  const got = (await c.done).map((g) => g[0])
  assert.deepEqual(got, ['before0', 'before1', 'before2', 'before3', 'before4', 'during', 'after'])
  assert.equal(await redisCli(replica.port, 'ROLE').then((r) => r.split('\n')[0]), 'master')
})

'use strict'
// busmq channels: both ends ours, and one end ours with the other real busmq 3.1 (npm).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Ours = require('../busmq')
const Theirs = require('busmq')
const { startRedis, online, captureEvent, uniqName, waitFor } = require('./busmq-helpers')

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

/** Records every event of `c` that a test looks at. */
function record (c) {
  const seen = []
  for (const e of ['connect', 'connected', 'remote:connect', 'remote:connected', 'message', 'disconnect',
    'remote:disconnect', 'end']) {
    c.on(e, (m) => seen.push(e === 'message' ? `message:${m}` : e))
  }
  return seen
}

test("the seed README's default-role channel: listen() and connect() exchange hellos under both event names", async () => {
  const [a, b] = [await up(Ours), await up(Ours)]
  const name = uniqName('bar')
  const server = a.channel(name)
  const client = b.channel(name)
  const serverSeen = record(server)
  const clientSeen = record(client)
  server.on('remote:connected', () => server.send('hello client!'))
  client.on('remote:connected', () => client.send('hello server!'))
  server.listen()
  client.connect()
  await waitFor(() => serverSeen.includes('message:hello server!') && clientSeen.includes('message:hello client!'), 5000, 10, 'hellos')
  for (const seen of [serverSeen, clientSeen]) {
    for (const e of ['connect', 'connected', 'remote:connect', 'remote:connected']) assert.ok(seen.includes(e), e)
  }
  assert.equal(server.isBound(), true)
  const gone = captureEvent(server, 'remote:disconnect')
  client.disconnect()
  await gone
  // Detaching completes asynchronously (as busmq's does): the remote side may hear of it first.
  await waitFor(() => client.isAttached() === false, 3000, 10, 'the client detached')
})

test('explicit roles, ours as server and busmq 3.1 as client, both ways, then end()', async () => {
  const [ours, theirs] = [await up(Ours), await up(Theirs)]
  const name = uniqName('zoo')
  const server = ours.channel(name, 'server', 'client')
  const client = theirs.channel(name, 'client', 'server')
  const serverSeen = record(server)
  const clientGot = []
  client.on('message', (m) => clientGot.push(m))
  client.on('remote:connect', () => client.send('hello server!'))
  server.on('remote:connect', () => server.send('hello client!'))
  client.connect()
  server.connect()
  await waitFor(() => serverSeen.includes('message:hello server!') && clientGot.includes('hello client!'), 5000, 10, 'hellos')
  const ended = captureEvent(client, 'end')
  server.end()
  await ended
  // The server's own 'disconnect' follows its detach, which may finish after the peer saw the end.
  await waitFor(() => serverSeen.includes('disconnect'), 3000, 10, "the server's disconnect")
})

test('a busmq 3.1 listener and our connector on default roles; a bad frame is an EPROTO error', async () => {
  const [ours, theirs] = [await up(Ours), await up(Theirs)]
  const name = uniqName('bar')
  const server = theirs.channel(name)
  const client = ours.channel(name)
  const got = []
  server.on('message', (m) => got.push(m))
  server.listen()
  const remote = captureEvent(client, 'remote:connected')
  client.connect()
  await remote
  for (let i = 0; i < 50; i++) client.send('n' + i)
  await waitFor(() => got.length === 50, 5000, 10, '50 messages')
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => 'n' + i))
  // A frame that is not :N: on our consuming queue.
  const raw = theirs.queue(`channel:local:${name}`)
  const attached = captureEvent(raw, 'attached')
  raw.attach()
  await attached
  const err = captureEvent(client, 'error')
  raw.push('garbage')
  const [e] = await err
  assert.equal(e.code, 'EPROTO')
  assert.equal(e.message, 'received unrecognized message type')
})

test('sendTo reaches a role without connecting', async () => {
  const ours = await up(Ours)
  const name = uniqName('st')
  const server = ours.channel(name, 'server', 'client')
  const got = captureEvent(server, 'message')
  server.connect()
  await captureEvent(server, 'connect')
  ours.channel(name).sendTo('server', 'direct')
  assert.equal((await got)[0], 'direct')
})

'use strict'
// The zmqbus node API in one process, on a loopback-only cluster (multicast_interface
// 127.0.0.1, TTL 0): validation, publish encodings, message shape, exact channels, '*',
// unsubscribe, stop, buffering before ready, overflow counting, async iteration, handler errors.
const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const { createNode } = require('..')
const { loopbackOpts, startNode, nextEvent, until, sleep, inRootNetns } = require('./bus-helpers')

// Nodes keep the process alive: whatever a failed test left running is stopped at the end.
const started = []
after(() => Promise.all(started.filter((n) => !n.stopped).map((n) => n.stop())))
function track (node) {
  started.push(node)
  return node
}

/** A ready node subscribed to `channels`, with every message it gets collected. */
async function readyNode (opts, ...channels) {
  const node = track(startNode(opts))
  const got = []
  node.on('message', (msg) => got.push(msg))
  await nextEvent(node, 'ready')
  if (channels.length) node.subscribe(...channels)
  return { node, got }
}

/** Publishes `args` until a message arrives in `got` and in every one of `others` (subscriptions
 *  travel apart from publishes), then empties them all. */
async function primed (node, got, ...args) {
  const all = [got]
  while (Array.isArray(args[args.length - 1])) all.push(args.pop())
  for (let i = 0; i < 100 && all.some((g) => g.length === 0); i++) {
    node.publish(...args)
    await sleep(20)
  }
  assert.ok(all.every((g) => g.length > 0), 'subscription never took effect')
  await sleep(50)
  for (const g of all) g.length = 0
}

test('options are validated synchronously, naming the option and its value', () => {
  assert.throws(() => createNode({ multicast_addr: '42424' }),
    { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: "multicast_addr '42424' is not an IPv4 multicast address" })
  // The README's example, verbatim (the duplicate key keeps the last value).
  const options = { election_priority: 2, multicast_addr: '239.9.9.9', multicast_addr: '42424' } // eslint-disable-line no-dupe-keys
  assert.throws(() => require('../zmqbus.js').createNode(options), { name: 'TypeError', message: /not an IPv4 multicast address/ })
  assert.throws(() => createNode({ election_priority: 100 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /election_priority '100'/ })
  assert.throws(() => createNode({ multicast_port: 70000 }), { name: 'RangeError', message: /multicast_port '70000'/ })
  assert.throws(() => createNode({ heartbeat_timeout: 'soon' }), { name: 'TypeError', message: /heartbeat_timeout 'soon' is not a number/ })
  assert.throws(() => createNode({ multicast_interface: 'eth0' }), { name: 'TypeError', message: /multicast_interface 'eth0'/ })
  assert.throws(() => createNode({ publish_buffer: -1 }), { name: 'RangeError', message: /publish_buffer '-1'/ })
  assert.throws(() => createNode('fast'), { name: 'TypeError', message: /options must be an object/ })
  assert.throws(() => createNode({ message_args: 'flat' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /message_args must be 'array' or 'spread'; received 'flat'/ })
})

test("message_args: 'spread' emits the channel and each frame as separate arguments, as the original code does", async () => {
  const node = track(startNode(loopbackOpts({ message_args: 'spread' })))
  const got = []
  node.on('message', (...args) => got.push(args))
  await nextEvent(node, 'ready')
  node.subscribe('equity')
  await primed(node, got, 'equity', 'warm')
  node.publish('equity', 'AAPL', 500.0)
  await until(() => got.length > 0, 2000, 'message')
  assert.deepEqual(got[0].map(String), ['equity', 'AAPL', '500'])
  assert.ok(got[0].every(Buffer.isBuffer))
  await node.stop()
})

test('the test guard refuses a node on the default interface outside a network namespace', { skip: !inRootNetns() && 'inside a netns' }, () => {
  const saved = process.env.ZMQBUS_MULTICAST_INTERFACE
  delete process.env.ZMQBUS_MULTICAST_INTERFACE
  try {
    assert.throws(() => startNode({}), /refusing to start a zmqbus node on the default interface/)
    assert.throws(() => startNode({ multicast_interface: '0.0.0.0' }), /refusing/)
  } finally {
    if (saved !== undefined) process.env.ZMQBUS_MULTICAST_INTERFACE = saved
  }
})

test('a lone node elects itself, is ready, and receives its own messages', async () => {
  const node = track(startNode(loopbackOpts()))
  const elected = nextEvent(node, 'elected')
  await nextEvent(node, 'ready')
  assert.deepEqual(await elected, { id: node.id, isMe: true })
  assert.equal(node.master, node.id)
  assert.equal(node.isMaster, true)
  assert.match(node.id, /^99\d{8}$/)
  await node.stop()
})

test('publish encodes strings, Buffers, numbers, booleans and JSON; messages are arrays of Buffers', async () => {
  const { node, got } = await readyNode(loopbackOpts(), 'equity')
  await primed(node, got, 'equity', 'probe')
  node.publish('equity', 'AAPL', 500.0, true, { px: 1.5 }, [1, 2], Buffer.from([0, 255]), null)
  await until(() => got.length === 1)
  const msg = got[0]
  assert.ok(Array.isArray(msg))
  assert.ok(msg.every((f) => Buffer.isBuffer(f)))
  assert.equal(msg[0].toString(), 'equity')
  assert.deepEqual(msg.slice(1, 6).map(String), ['AAPL', '500', 'true', '{"px":1.5}', '[1,2]'])
  assert.deepEqual([...msg[6]], [0, 255])
  assert.equal(msg[7].toString(), 'null')
  assert.equal('' + msg.slice(0, 3), 'equity,AAPL,500')
  assert.equal('received ' + [msg[0], msg[1], msg[2]], 'received equity,AAPL,500')
  assert.throws(() => node.publish(42, 'x'), { name: 'TypeError', message: /channel must be a string/ })
  const cyclic = {}
  cyclic.self = cyclic
  assert.throws(() => node.publish('equity', 'ok', cyclic), TypeError)
  node.publish('equity', 'after-bad')
  await until(() => got.length === 2)
  assert.deepEqual(got[1].map(String), ['equity', 'after-bad'], 'a failed publish leaves nothing half-written')
  await node.stop()
})

test('delivery is by exact channel, * gets everything, unsubscribe stops delivery', async () => {
  const opts = loopbackOpts()
  const a = await readyNode(opts, 'equity')
  const b = await readyNode(opts, '*')
  await primed(a.node, a.got, 'equity', 'probe', b.got)
  a.node.publish('equity2', 'x')
  a.node.publish('equity', 'AAPL', 500)
  await until(() => b.got.length === 2)
  await sleep(50)
  assert.deepEqual(a.got.map((m) => m.map(String)), [['equity', 'AAPL', '500']], 'no prefix matching')
  assert.deepEqual(b.got.map((m) => m[0].toString()), ['equity2', 'equity'])
  a.node.unsubscribe('equity')
  await sleep(100)
  a.node.publish('equity', 'gone')
  await until(() => b.got.length === 3)
  await sleep(100)
  assert.equal(a.got.length, 1)
  await Promise.all([a.node.stop(), b.node.stop()])
})

test('publishes made before ready are buffered and delivered', async () => {
  const node = track(startNode(loopbackOpts()))
  const got = []
  node.on('message', (msg) => got.push(msg.map(String)))
  node.subscribe('early')
  node.publish('early', 'one')
  node.publish('early', 'two')
  assert.equal(node.isReady, false)
  await until(() => got.length === 2)
  assert.deepEqual(got, [['early', 'one'], ['early', 'two']])
  assert.equal(node.dropped, 0)
  await node.stop()
})

test('publish buffer overflow is counted and reported, never silent', async () => {
  const node = track(startNode(loopbackOpts({ publish_buffer: 2 })))
  const drop = nextEvent(node, 'drop')
  for (let i = 0; i < 5; i++) node.publish('ch', String(i))
  assert.equal(await drop, 3)
  assert.equal(node.dropped, 3)
  assert.deepEqual(node.drops, { publish: 3, receive: 0, iterator: 0 })
  await node.stop()
})

test('for await over messages(channel) yields that channel only; break unsubscribes', async () => {
  const { node, got } = await readyNode(loopbackOpts())
  const it = node.messages('equity')
  await sleep(50)
  const seen = []
  const reader = (async () => {
    for await (const msg of it) {
      seen.push(msg.map(String))
      if (seen.length === 3) break
    }
  })()
  for (let i = 0; i < 100 && seen.length < 3; i++) {
    node.publish('other', 'x')
    node.publish('equity', String(i))
    await sleep(10)
  }
  await reader
  assert.equal(seen.length, 3)
  assert.ok(seen.every((m) => m[0] === 'equity'))
  assert.equal(got.length, 0, "iterator-only channels do not reach 'message'")
  const done = node.messages('x')
  const pending = done.next()
  await node.stop()
  assert.deepEqual(await pending, { value: undefined, done: true }, 'iterators end when the node stops')
})

test('an exception in a message handler becomes an error event and no message is lost', async () => {
  const { node, got } = await readyNode(loopbackOpts(), 'ch')
  await primed(node, got, 'ch', 'probe')
  const errors = []
  node.on('error', (err) => errors.push(err))
  let calls = 0
  node.on('message', () => { if (calls++ === 0) throw new Error('handler failed') })
  for (let i = 0; i < 5; i++) node.publish('ch', String(i))
  await until(() => got.length === 5)
  assert.deepEqual(got.map((m) => m[1].toString()), ['0', '1', '2', '3', '4'])
  await until(() => calls === 5)
  assert.equal(errors.length, 1)
  assert.equal(errors[0].message, 'handler failed')
  await node.stop()
})

test('a slow message handler makes the node discard (counted), memory stays bounded', async () => {
  const opts = loopbackOpts()
  const pub = await readyNode(opts)
  const sub = await readyNode(opts, 'flood')
  await primed(pub.node, sub.got, 'flood', 'probe')
  let first = true
  sub.node.on('message', () => {
    if (!first) return
    first = false
    const end = Date.now() + 600 // the JS thread is stuck: Rust must not buffer without limit
    while (Date.now() < end);
  })
  const drops = []
  sub.node.on('drop', (n, reason) => drops.push(reason))
  const payload = 'x'.repeat(2000)
  // One synchronous burst: all of it reaches Rust before the handler runs and blocks.
  for (let i = 0; i < 20000; i++) pub.node.publish('flood', payload)
  await until(() => sub.node.drops.receive > 0, 10000, 'receive drops')
  assert.ok(drops.includes('receive'))
  assert.ok(sub.got.length < 20000, 'some messages were discarded, not queued')
  await Promise.all([pub.node.stop(), sub.node.stop()])
})

test('stop() resolves once, emits stop, and a stopped node refuses to be used', async () => {
  const node = track(startNode(loopbackOpts()))
  await nextEvent(node, 'ready')
  const stopped = nextEvent(node, 'stop')
  const p = node.stop()
  assert.equal(node.stop(), p, 'stop() is idempotent')
  await p
  await stopped
  assert.equal(node.stopped, true)
  for (const call of [() => node.publish('a', 'b'), () => node.subscribe('a'), () => node.unsubscribe('a'), () => node.messages('a')]) {
    assert.throws(call, { code: 'ERR_NODE_STOPPED', message: /stopped node cannot be restarted/ })
  }
})

test('node.stats(): published, received, elections, drops and refused discovery datagrams', async () => {
  const opts = loopbackOpts()
  const { node, got } = await readyNode(opts, 'equity')
  await primed(node, got, 'equity', 'warm')
  const before = node.stats()
  for (let i = 0; i < 20; i++) node.publish('equity', String(i))
  await until(() => got.length >= 20, 3000, '20 messages')
  // Malformed datagrams to the cluster's group, on loopback only (TTL 0, interface 127.0.0.1).
  const udp = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve))
  udp.setMulticastInterface('127.0.0.1')
  udp.setMulticastTTL(0)
  for (const junk of ['not json', '["elect","winner",{"id":"1"}]', '{"hb":1}']) {
    await new Promise((resolve) => udp.send(junk, opts.multicast_port, opts.multicast_addr, resolve))
  }
  udp.close()
  await until(() => node.stats().refusedDatagrams >= 3, 3000, 'refused datagrams counted')
  const s = node.stats()
  assert.equal(s.published - before.published, 20)
  assert.ok(s.received - before.received >= 20)
  assert.equal(s.refusedDatagrams, 3)
  assert.deepEqual(s.refusedDatagramsByReason, { too_large: 0, malformed: 3, unsigned: 0, signed: 0, forged: 0, stale: 0, replayed: 0 })
  assert.ok(s.elections >= 1)
  assert.equal(s.master, node.id)
  assert.equal(s.isMaster, true)
  assert.equal(s.ready, true)
  assert.deepEqual(s.dropped, { publish: 0, receive: 0, iterator: 0, total: 0 })
  await node.stop()
})

test('random and oversized discovery datagrams are refused and counted; the node keeps working', async () => {
  const opts = loopbackOpts()
  const { node, got } = await readyNode(opts, 'ch')
  await primed(node, got, 'ch', 'warm')
  // Sent to the cluster's group on loopback only (TTL 0, interface 127.0.0.1). Seeded: replayable.
  const udp = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve))
  udp.setMulticastInterface('127.0.0.1')
  udp.setMulticastTTL(0)
  let seed = 12345
  const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296 }
  const N = 500
  for (let i = 0; i < N; i++) {
    const junk = Buffer.alloc(1 + Math.floor(rand() * 300))
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rand() * 256)
    junk[0] = 0x7b // '{': never a JSON array, so never a valid datagram
    await new Promise((resolve) => udp.send(junk, opts.multicast_port, opts.multicast_addr, resolve))
    // The node reads on this JS thread's loop: let the loop turn, or 500 datagrams sent within one JS turn
    // would overflow its socket's receive buffer (as they would a Node dgram socket's).
    if (i % 25 === 24) await new Promise((resolve) => setImmediate(resolve))
  }
  for (const size of [9000, 60000]) {
    const big = Buffer.from(JSON.stringify(['hb', 'x'.repeat(size)]))
    await new Promise((resolve) => udp.send(big, opts.multicast_port, opts.multicast_addr, resolve))
  }
  udp.close()
  await until(() => node.stats().refusedDatagrams >= N + 2, 5000, 'every datagram refused and counted')
  assert.equal(node.stats().refusedDatagrams, N + 2)
  assert.equal(node.stats().refusedDatagramsByReason.malformed, N)
  assert.equal(node.stats().refusedDatagramsByReason.too_large, 2, 'over 8 KiB: refused before parsing')
  assert.equal(node.master, node.id, 'no datagram changed the election')
  got.length = 0
  node.publish('ch', 'after')
  await until(() => got.length > 0, 3000, 'a message after the flood')
  await node.stop()
})

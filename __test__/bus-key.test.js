'use strict'
// Authenticated discovery (`cluster_key`) on loopback-only clusters (multicast_interface 127.0.0.1,
// TTL 0): keyed nodes elect and exchange messages over CURVE derived from the key; a node with another
// key, a keyless node, datagrams injected by this test (unsigned, forged, replayed) are refused and
// counted by reason and never change the election; the spec-written JS peer (as an original node)
// ignores signed datagrams; the ZMQBUS_CLUSTER_KEY environment variable; option errors.
const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const dgram = require('node:dgram')
const { createNode } = require('..')
const { loopbackOpts, startNode, nextEvent, until, sleep } = require('./bus-helpers')

const KEY = 'test cluster key: 0123456789abcdef'
const started = []
after(() => Promise.all(started.filter((n) => !n.stopped).map((n) => n.stop())))

function node (opts) {
  const n = startNode(opts)
  started.push(n)
  n.got = []
  n.on('message', (msg) => n.got.push(msg.map(String)))
  return n
}

/** Publishes from `from` until `to` has a message on `channel`. */
async function delivered (from, to, channel, text) {
  for (let i = 0; i < 150 && !to.got.some((m) => m[0] === channel); i++) {
    from.publish(channel, text)
    await sleep(20)
  }
  assert.ok(to.got.some((m) => m[0] === channel && m[1] === text), `nothing arrived on ${channel}`)
}

/** A UDP socket in the cluster's group on loopback (TTL 0: nothing leaves the host). */
async function injector (opts) {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  const heard = []
  sock.on('message', (buf) => heard.push(buf))
  await new Promise((resolve) => sock.bind(opts.multicast_port, opts.multicast_addr, resolve))
  sock.setMulticastInterface('127.0.0.1')
  sock.addMembership(opts.multicast_addr, '127.0.0.1')
  sock.setMulticastTTL(0)
  const send = (buf) => new Promise((resolve) => sock.send(buf, opts.multicast_port, opts.multicast_addr, resolve))
  return { heard, send, close: () => sock.close() }
}

const refused = (n) => n.stats().refusedDatagramsByReason

test('two keyed nodes elect and exchange messages (CURVE derived from the key)', async () => {
  const base = loopbackOpts({ cluster_key: KEY })
  const a = node({ ...base, election_priority: 9 })
  const b = node({ ...base, election_priority: 1 })
  await Promise.all([nextEvent(a, 'ready', 8000), nextEvent(b, 'ready', 8000)])
  assert.equal(b.master, a.id)
  assert.equal(a.isMaster, true)
  b.subscribe('k')
  await delivered(a, b, 'k', 'signed and sealed')
  a.subscribe('back')
  await delivered(b, a, 'back', 'both ways')
  assert.equal(a.stats().refusedDatagrams, 0)
  assert.equal(a.stats().forwarder.sub.refusedTotal, 0)
})

test('a node with another key is ignored and counted; the election is unchanged', async () => {
  const base = loopbackOpts({ cluster_key: KEY })
  const a = node({ ...base, election_priority: 5 })
  const b = node({ ...base, election_priority: 1 })
  await Promise.all([nextEvent(a, 'ready', 8000), nextEvent(b, 'ready', 8000)])
  const elections = b.stats().elections
  const wrong = node({ ...base, cluster_key: 'another key entirely, 0123456789', election_priority: 99 })
  await nextEvent(wrong, 'ready', 8000)
  assert.equal(wrong.master, wrong.id, 'it is alone in its own cluster')
  await until(() => refused(a).forged >= 3 && refused(b).forged >= 3, 5000, 'forged datagrams counted')
  assert.equal(b.master, a.id)
  assert.equal(b.stats().elections, elections, 'no new election')
  b.subscribe('still')
  await delivered(a, b, 'still', 'fine')
  assert.equal(refused(wrong).forged > 0, true, 'and it refuses ours')
})

test('unsigned, forged and replayed datagrams injected on loopback are counted and not acted on', async (t) => {
  const base = loopbackOpts({ cluster_key: KEY })
  const inj = await injector(base)
  t.after(() => inj.close())
  const a = node({ ...base, election_priority: 5 })
  await nextEvent(a, 'ready', 8000)
  const meta = { id: '0000000001', sub_addr: 'tcp://127.0.0.1:9', pub_addr: 'tcp://127.0.0.1:10' }
  const winner = JSON.stringify(['elect', 'winner', meta])
  await inj.send(Buffer.from(winner))
  await inj.send(Buffer.from(JSON.stringify(['hb', '0000000001'])))
  await until(() => refused(a).unsigned >= 2, 3000, 'unsigned counted')
  // A signature that is well-formed but not made with the key.
  await inj.send(Buffer.from(`${winner}\nZBMAC1 0011223344556677 ${Date.now()} ${'ab'.repeat(32)}`))
  await until(() => refused(a).forged >= 1, 3000, 'forged counted')
  // A genuine datagram of the node (its heartbeat), sent again.
  const isHeartbeat = (b) => b.toString().startsWith('["hb",') && b.includes('ZBMAC1')
  await until(() => inj.heard.some(isHeartbeat), 3000, 'a signed heartbeat heard')
  const genuine = inj.heard.find(isHeartbeat)
  await inj.send(genuine)
  await inj.send(genuine)
  await until(() => refused(a).replayed >= 2, 3000, 'replays counted')
  // The genuine heartbeat, naming a rogue with a raised priority: the MAC no longer matches.
  const hb = genuine.toString()
  assert.match(hb, /^\["hb","\d{10}"\]\nZBMAC1 /)
  await inj.send(Buffer.from(hb.replace(/"\d{10}"/, '"0000000001"')))
  await until(() => refused(a).forged >= 2, 3000, 'altered counted')
  await sleep(300)
  assert.equal(a.master, a.id, 'still its own master')
  assert.equal(a.stats().elections, 1)
  assert.equal(a.stats().refusedDatagrams, Object.values(refused(a)).reduce((x, y) => x + y, 0))
})

test('keyed and keyless nodes on one group stay apart, each counting the other', async () => {
  const base = loopbackOpts()
  const keyed = node({ ...base, cluster_key: KEY, election_priority: 1 })
  const keyless = node({ ...base, election_priority: 99 })
  await Promise.all([nextEvent(keyed, 'ready', 8000), nextEvent(keyless, 'ready', 8000)])
  await until(() => refused(keyed).unsigned >= 2 && refused(keyless).signed >= 2, 5000, 'both count')
  assert.equal(keyed.master, keyed.id, 'the keyless node (priority 99) did not win')
  assert.equal(keyless.master, keyless.id)
})

test('an original node (the spec-written JS peer) ignores signed datagrams', async (t) => {
  const { createNode: createPeer } = require('../test-peers/zmqbus-peer.js')
  const base = loopbackOpts()
  const peer = createPeer({ ...base, interface: '127.0.0.1', election_priority: 0 })
  const elected = []
  peer.on('elected', (m) => elected.push(m.id))
  t.after(() => peer.stop())
  await peer.started
  const keyed = node({ ...base, cluster_key: KEY, election_priority: 99 })
  await nextEvent(keyed, 'ready', 8000)
  await until(() => elected.length > 0, 8000, 'the peer elects')
  await sleep(500)
  assert.ok(!elected.includes(keyed.id), 'the peer never followed the keyed node')
  assert.deepEqual([...new Set(elected)], [peer.id])
  assert.equal(keyed.master, keyed.id)
  assert.ok(refused(keyed).unsigned > 0)
})

test('ZMQBUS_CLUSTER_KEY applies when the option is absent', async () => {
  const base = loopbackOpts()
  const a = node({ ...base, cluster_key: KEY, election_priority: 9 })
  await nextEvent(a, 'ready', 8000)
  process.env.ZMQBUS_CLUSTER_KEY = KEY
  let b
  try {
    b = node({ ...base, election_priority: 1 })
  } finally {
    delete process.env.ZMQBUS_CLUSTER_KEY
  }
  await nextEvent(b, 'ready', 8000)
  assert.equal(b.master, a.id)
  assert.equal(refused(a).unsigned, 0)
})

test('cluster_key errors: type, length, combination; the key never appears', () => {
  const base = loopbackOpts()
  assert.throws(() => createNode({ ...base, cluster_key: 42 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => createNode({ ...base, cluster_key: 'tiny secret' }), (err) => {
    assert.equal(err.code, 'ERR_INVALID_ARG_VALUE')
    assert.match(err.message, /cluster_key .* shorter than 16 bytes/)
    assert.doesNotMatch(err.message, /tiny secret/)
    return true
  })
  assert.throws(() => createNode({ ...base, cluster_key: KEY, plain: { username: 'u' } }), /cannot be combined/)
})

'use strict'
// CURVE and PLAIN on the bus's data path, on a loopback-only cluster: nodes sharing the cluster's key pair
// (or login) publish and receive through the elected forwarder; a node with another key is refused by the
// forwarder and counted there, and the cluster keeps working; bad settings throw at createNode. Every node
// here uses loopbackOpts() (multicast_interface 127.0.0.1): discovery never leaves the machine.
const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const { createNode, curveKeyPair, z85Decode } = require('..')
const { loopbackOpts, startNode, nextEvent, until, sleep } = require('./bus-helpers')

const started = []
after(() => Promise.all(started.filter((n) => !n.stopped).map((n) => n.stop())))

async function readyNode (opts) {
  const node = startNode(opts)
  started.push(node)
  const got = []
  node.on('message', (msg) => got.push(msg))
  await nextEvent(node, 'ready', 8000)
  return { node, got }
}

/** Publishes from `from` until `got` has a message (subscriptions travel apart from publishes). */
async function delivered (from, got, channel, text) {
  for (let i = 0; i < 150 && got.length === 0; i++) {
    from.publish(channel, text)
    await sleep(20)
  }
  assert.ok(got.length > 0, 'nothing arrived through the forwarder')
  assert.equal(String(got[0][1]), text)
}

test('nodes sharing a CURVE key pair exchange messages; a node with another key is refused and counted', async () => {
  const cluster = curveKeyPair()
  const base = loopbackOpts()
  const a = await readyNode({ ...base, election_priority: 9, curve: { publicKey: cluster.publicKey, secretKey: z85Decode(cluster.secretKey) } })
  const b = await readyNode({ ...base, election_priority: 1, curve: { secretKey: cluster.secretKey } })
  b.node.subscribe('secure')
  await delivered(a.node, b.got, 'secure', 'hello')
  assert.equal(a.node.stats().forwarder.sub.refusedTotal, 0)

  const stranger = startNode({ ...base, election_priority: 0, curve: { secretKey: curveKeyPair().secretKey } })
  started.push(stranger)
  await until(() => a.node.stats().forwarder.pub.refusedTotal + a.node.stats().forwarder.sub.refusedTotal >= 1, 5000, 'the stranger refused')
  assert.equal(stranger.isReady, false)
  b.got.length = 0
  await delivered(a.node, b.got, 'secure', 'still')
})

test('nodes sharing a PLAIN login exchange messages', async () => {
  const base = loopbackOpts()
  const plain = { username: 'bus', password: 'pw' }
  const a = await readyNode({ ...base, election_priority: 9, plain })
  const b = await readyNode({ ...base, election_priority: 1, plain })
  b.node.subscribe('p')
  await delivered(a.node, b.got, 'p', 'over plain')
})

test('security settings that cannot work throw at createNode, naming the option', () => {
  assert.throws(() => createNode({ ...loopbackOpts(), curve: { secretKey: 'short' } }), { code: 'ERR_INVALID_ARG_TYPE', message: /options.curve.secretKey/ })
  assert.throws(() => createNode({ ...loopbackOpts(), curve: { publicKey: curveKeyPair().publicKey } }), /curve .* misses a required key/)
  assert.throws(() => createNode({ ...loopbackOpts(), plain: { password: 'x' } }), /plain .* misses a required key/)
})

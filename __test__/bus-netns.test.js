'use strict'
// zmqbus across five network namespaces (netns) joined by a bridge in a sixth: nodes run
// with the DEFAULT options (no multicast_interface: the guard allows that only inside a
// namespace), so discovery really uses multicast on eth0, and nothing leaves the namespaces.
// Covers discovery, priority election, kill -9 of the master (new master in bounded time),
// re-subscription, and no loss for paced publishers that buffer through the failover.
// Skipped with a reason when namespaces cannot be made (not root); never under CI=true.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Child, canNetns, createNetns, until, sleep, spawnPeer } = require('./bus-helpers')


// resend_window: publishes written to a master that then crashed are sent again through the
// next one (at-least-once): a kill -9 leaves the dying process accepting data for a while.
const FAST = { election_timeout: 300, heartbeat_period: 200, heartbeat_timeout: 800, resend_window: 250 }
const PRIORITIES = [1, 4, 2, 3, 0] // node 1 wins, then node 3
const PACED = 120
const INTERVAL = 20

const available = canNetns()
const skip = available ? false : 'needs root and iproute2 to create network namespaces'
if (skip && process.env.CI === 'true') throw new Error('netns tests cannot run under CI: ' + skip)

test('five namespaces: discovery, priority election, kill -9 failover without loss', { skip }, async (t) => {
  const net = createNetns(5)
  const nodes = []
  t.after(async () => {
    await Promise.all(nodes.map((n) => n.kill()))
    net.cleanup()
  })
  for (let i = 0; i < 5; i++) {
    nodes.push(new Child({ ...FAST, election_priority: PRIORITIES[i] }, { netns: net.names[i], gated: true, env: { ZMQBUS_MULTICAST_INTERFACE: '' } }))
  }
  // All processes loaded, then all nodes start at once: one election, which priority decides.
  await Promise.all(nodes.map((n) => n.wait('loaded', 10000)))
  for (const n of nodes) n.send({ cmd: 'go' })
  const ids = await Promise.all(nodes.map((n) => n.wait('started', 5000).then((l) => l.id)))
  await Promise.all(nodes.map((n) => n.wait('ready', 8000)))
  for (const [i, n] of nodes.entries()) {
    const e = await n.wait('elected', 3000, (l) => l.id === ids[1])
    assert.equal(e.isMe, i === 1, 'the highest priority is elected everywhere')
  }

  const subscribers = [0, 2, 3, 4]
  for (const i of subscribers) nodes[i].send({ cmd: 'subscribe', channels: ['equity'] })
  await Promise.all(subscribers.map((i) => nodes[i].wait('subscribed')))
  // Wait until the data path carries messages from every publisher to every subscriber.
  for (let k = 0; k < 100; k++) {
    nodes[2].send({ cmd: 'publish', args: ['equity', 'probe', String(k)] })
    nodes[3].send({ cmd: 'publish', args: ['equity', 'probe', String(k)] })
    await sleep(30)
    if (subscribers.every((i) => nodes[i].lines.filter((l) => l.ev === 'message').length >= 2)) break
  }
  await sleep(100)

  // Two paced publishers; the master dies in the middle of their runs.
  nodes[2].send({ cmd: 'pace', channel: 'equity', tag: 'p2', count: PACED, interval: INTERVAL })
  nodes[3].send({ cmd: 'pace', channel: 'equity', tag: 'p3', count: PACED, interval: INTERVAL })
  await sleep(PACED * INTERVAL / 3)
  const killedAt = Date.now()
  await nodes[1].kill('SIGKILL')
  const limit = FAST.heartbeat_timeout + FAST.election_timeout + 700
  const survivors = [0, 2, 3, 4]
  const elected = await Promise.all(survivors.map((i) => nodes[i].wait('elected', limit + 2000, (l) => l.id === ids[3])))
  const took = Math.max(...elected.map((e) => e.t)) - killedAt
  t.diagnostic(`new master elected ${took} ms after kill -9`)
  assert.ok(took < limit, `failover took ${took} ms (limit ${limit})`)

  await Promise.all([nodes[2].wait('paced', 10000), nodes[3].wait('paced', 10000)])
  const lost = {}
  for (const i of subscribers) {
    for (const tag of ['p2', 'p3']) {
      await until(() => seqs(nodes[i], tag).size === PACED, 3000, `node ${i} receiving all of ${tag}`).catch(() => {})
      const got = seqs(nodes[i], tag)
      const missing = [...Array(PACED).keys()].filter((s) => !got.has(String(s)))
      if (missing.length) lost[`node ${i} ${tag}`] = missing
    }
  }
  if (Object.keys(lost).length && process.env.ZMQBUS_TEST_TRACE) {
    t.diagnostic(`killed at ${killedAt}; elected at ${elected.map((e) => e.t)}`)
    for (const i of [2, 3]) t.diagnostic(JSON.stringify(nodes[i].lines.filter((l) => l.ev === 'pub' && Math.abs(l.t - killedAt) < 400)))
    for (const i of subscribers) t.diagnostic(`node ${i}: ` + JSON.stringify(nodes[i].lines.filter((l) => l.ev !== 'pub' && l.t && Math.abs(l.t - killedAt) < 400).map((l) => [l.ev, l.t - killedAt, ...(l.msg || [])])))
  }
  assert.deepEqual(lost, {}, 'messages lost in the failover')
})

function seqs (node, tag) {
  return new Set(node.lines.filter((l) => l.ev === 'message' && l.msg[1] === tag).map((l) => l.msg[2]))
}

test('mixed cluster across namespaces: the JS peer as master, then killed; our nodes take over', { skip }, async (t) => {
  const net = createNetns(3, 'm')
  const procs = []
  t.after(async () => {
    await Promise.all(procs.map((p) => p.kill()))
    net.cleanup()
  })
  const group = { multicast_addr: '239.1.2.3', multicast_port: 45555, ...FAST }
  delete group.resend_window
  const peer = spawnPeer(net.names[0], { ...group, election_priority: 9, interface: net.ips[0] })
  procs.push(peer)
  const peerId = (await peer.wait('started')).id
  const ours = [1, 2].map((i) => new Child({ ...group, election_priority: i }, { netns: net.names[i], env: { ZMQBUS_MULTICAST_INTERFACE: '' } }))
  procs.push(...ours)
  for (const n of ours) await n.wait('elected', 8000, (l) => l.id === peerId)
  await Promise.all(ours.map((n) => n.wait('ready', 8000)))
  peer.send({ cmd: 'subscribe', channel: 'quote' })
  ours[0].send({ cmd: 'subscribe', channels: ['quote'] })
  const got = (n) => n.lines.filter((l) => l.ev === 'message').map((l) => l.msg)
  for (let i = 0; i < 100 && !(peer.messages.length && got(ours[0]).length); i++) {
    ours[1].send({ cmd: 'publish', args: ['quote', 'via-peer', String(i)] })
    await sleep(30)
  }
  assert.ok(peer.messages.length > 0, 'the JS peer received our publishes through its own forwarder')
  assert.ok(got(ours[0]).length > 0, 'our node received them through the JS forwarder')

  await peer.kill()
  const oursId = (await ours[1].wait('started')).id // priority 2 wins among ours
  for (const n of ours) await n.wait('elected', 3000, (l) => l.id === oursId)
  const before = got(ours[0]).length
  for (let i = 0; i < 100 && got(ours[0]).length === before; i++) {
    ours[1].send({ cmd: 'publish', args: ['quote', 'after', String(i)] })
    await sleep(30)
  }
  assert.ok(got(ours[0]).length > before, 'traffic resumed through the new master')
})

/** Runs createNode with default options inside `netns` and prints what happened as JSON. */
function startIn (netns) {
  const script = `
    const { startNode } = require(${JSON.stringify(require.resolve('./bus-helpers'))})
    try {
      const node = startNode({})
      console.log(JSON.stringify({ subAddr: node.subAddr }))
      node.stop()
    } catch (err) {
      console.log(JSON.stringify({ code: err.code, message: err.message }))
    }`
  const out = require('node:child_process').execFileSync('ip', ['netns', 'exec', netns, process.execPath, '-e', script],
    { env: { ...process.env, ZMQBUS_MULTICAST_INTERFACE: '' }, timeout: 20000 })
  return JSON.parse(out.toString().trim().split('\n').pop())
}

test('default options on a host with no default route: the multicast route is used, no route is a clear error', { skip }, () => {
  const { execFileSync } = require('node:child_process')
  const ip = (...args) => execFileSync('ip', args)
  const base = `zb${process.pid}r`
  const names = [`${base}only`, `${base}mcast`]
  try {
    for (const ns of names) {
      ip('netns', 'add', ns)
      ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    // Loopback only: no route to the group at all.
    const none = startIn(names[0])
    assert.equal(none.code, 'ENETUNREACH', JSON.stringify(none))
    assert.match(none.message, /multicast_interface/)
    // An interface with a route for the multicast range and no default route.
    ip('-n', names[1], 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1')
    ip('-n', names[1], 'addr', 'add', '10.78.0.5/24', 'dev', 'eth0')
    ip('-n', names[1], 'link', 'set', 'eth1', 'up')
    ip('-n', names[1], 'link', 'set', 'eth0', 'up')
    ip('-n', names[1], 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    const found = startIn(names[1])
    assert.match(found.subAddr || '', /^tcp:\/\/10\.78\.0\.5:\d+$/, JSON.stringify(found))
  } finally {
    for (const ns of names) {
      try { ip('netns', 'del', ns) } catch (e) {}
    }
  }
})

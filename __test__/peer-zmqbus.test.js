'use strict'
// The zmqbus spec peer (test-peers/zmqbus-peer.js) on its own: two peers on
// loopback elect one node and exchange messages through its forwarder; the
// elected node stays when a new node joins; the survivor takes over when the
// elected node stops; unsafe or malformed options are refused.
// Each test uses its own multicast group and port, so parallel runs on this
// host do not hear each other.

const path = require('node:path')
const { describe, it, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { spawnNode, freePort, waitFor } = require('./helpers')

const PEER = path.join(__dirname, '..', 'test-peers', 'zmqbus-peer.js')
const FAST = { heartbeat_period: 100, heartbeat_timeout: 400, election_timeout: 200 }

let peers = []

async function cluster() {
  const group = `239.255.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
  const port = await freePort()
  return { multicast_addr: group, multicast_port: port, interface: '127.0.0.1', ...FAST }
}

function startPeer(opts, extra = {}) {
  const args = Object.entries({ ...opts, ...extra }).map(([k, v]) => `--${k}=${v}`)
  const p = spawnNode(PEER, args)
  peers.push(p)
  return p
}

/** Publishes `args` from `from` until `to` prints a matching message (slow joiners). */
async function publishUntilReceived(from, to, channel, args, timeoutMs = 2500) {
  let n = 0
  const timer = setInterval(() => from.send({ cmd: 'publish', channel, args: [...args, `#${n++}`] }), 50)
  try {
    return await to.waitJson((m) => m.event === 'message' && m.frames[0] === channel, timeoutMs)
  } finally {
    clearInterval(timer)
  }
}

describe('zmqbus spec peer', () => {
  afterEach(async () => {
    await Promise.all(peers.map((p) => p.kill('SIGKILL')))
    peers = []
  })

  it('two peers on loopback elect one node and exchange a message', async () => {
    const opts = await cluster()
    const a = startPeer(opts)
    const b = startPeer(opts)
    const [ra, rb] = await Promise.all([
      a.waitJson((m) => m.event === 'ready', 2500),
      b.waitJson((m) => m.event === 'ready', 2500),
    ])
    // Both agree on the elected node (allow a late switch on a simultaneous start).
    await waitFor(() => {
      const last = (p) => p.lines.map((l) => JSON.parse(l)).filter((m) => m.event === 'elected').pop()
      return last(a) && last(b) && last(a).id === last(b).id
    }, 2000, 20, 'both peers to agree on the elected node')
    assert.ok(ra.id !== rb.id)

    b.send({ cmd: 'subscribe', channel: 'equity' })
    await b.waitJson((m) => m.event === 'ok' && m.cmd === 'subscribe')
    const got = await publishUntilReceived(a, b, 'equity', ['AAPL', 500.0])
    assert.deepEqual(got.frames.slice(0, 3), ['equity', 'AAPL', '500'])
  })

  it('a publisher subscribed to its channel receives its own messages', async () => {
    const opts = await cluster()
    const a = startPeer(opts)
    await a.waitJson((m) => m.event === 'ready', 2500)
    a.send({ cmd: 'subscribe', channel: '*' })
    const got = await publishUntilReceived(a, a, 'news', ['hello'])
    assert.deepEqual(got.frames.slice(0, 2), ['news', 'hello'])
  })

  it('keeps the elected node when a higher-priority node joins, and fails over when it stops', async () => {
    const opts = await cluster()
    const a = startPeer(opts)
    const ea = await a.waitJson((m) => m.event === 'elected', 2500)
    assert.equal(ea.self, true)
    const b = startPeer(opts, { election_priority: 50 })
    const eb = await b.waitJson((m) => m.event === 'elected', 2500)
    assert.equal(eb.id, ea.id, 'the previously elected node stays')
    // Like the original, the peer advertises its forwarder as tcp://0.0.0.0:PORT.
    assert.match(eb.sub_addr, /^tcp:\/\/0\.0\.0\.0:\d+$/)

    a.send({ cmd: 'stop' })
    await a.waitJson((m) => m.event === 'stopped', 1000)
    const takeover = await b.waitJson((m) => m.event === 'elected' && m.self, 2500)
    assert.notEqual(takeover.id, ea.id)
    b.send({ cmd: 'subscribe', channel: 'equity' })
    const got = await publishUntilReceived(b, b, 'equity', ['MSFT', 1])
    assert.equal(got.frames[1], 'MSFT')
  })

  const IN_NETNS = process.env.ZMQBUS_IN_NETNS === '1' && 'inside a network namespace the guard is off by design'
  it('refuses a non-loopback interface outside a network namespace', { skip: IN_NETNS }, async () => {
    const p = spawnNode(PEER, ['--interface=192.0.2.1'], { env: { ZMQBUS_IN_NETNS: '' } })
    peers.push(p)
    const err = await p.waitJson((m) => m.event === 'error', 2000)
    assert.match(err.error, /refusing to run/)
    const { code } = await p.exited
    assert.equal(code, 2)
  })

  it('refuses a multicast_addr that is not a multicast address (the README\'s 42424)', async () => {
    const p = spawnNode(PEER, ['--multicast_addr=42424'])
    peers.push(p)
    const err = await p.waitJson((m) => m.event === 'error', 2000)
    assert.match(err.error, /multicast_addr must be an IPv4 multicast address/)
  })
})

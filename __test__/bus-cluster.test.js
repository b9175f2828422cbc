'use strict'
// zmqbus clusters of separate processes on loopback only (multicast_interface 127.0.0.1,
// multicast TTL 0): three of our nodes; a mixed cluster with the spec-written JS peer
// (test-peers/zmqbus-peer.js, libzmq through zeromq/v5-compat) as master and as follower;
// and the README's example program, unchanged, pointed at loopback with
// ZMQBUS_MULTICAST_INTERFACE (the env form of the multicast_interface option).
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { EventEmitter } = require('node:events')
const { loopbackOpts, Child, until, sleep, nextEvent } = require('./bus-helpers')

const PEER = path.join(__dirname, '..', 'test-peers', 'zmqbus-peer.js')
const EXAMPLE = path.join(__dirname, '..', 'examples', 'zmqbus-simple.js')

/** The JS peer as a process (its lines carry `event`, its commands `cmd`). */
class Peer extends EventEmitter {
  constructor (opts) {
    super()
    const args = Object.entries({ ...opts, interface: '127.0.0.1' }).map(([k, v]) => `--${k}=${v}`)
    this.proc = spawn(process.execPath, [PEER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.messages = []
    this.lines = []
    this.exited = new Promise((resolve) => this.proc.once('exit', resolve))
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      let msg
      try { msg = JSON.parse(line) } catch (e) { return }
      if (msg.event === 'message') this.messages.push(msg.frames)
      this.lines.push(msg)
      this.emit(msg.event, msg)
    })
  }

  wait (event, ms, pred = () => true) {
    const seen = this.lines.find((l) => l.event === event && pred(l))
    return seen ? Promise.resolve(seen) : nextEvent(this, event, ms, pred)
  }

  send (cmd) { this.proc.stdin.write(JSON.stringify(cmd) + '\n') }
  kill () { this.proc.kill('SIGKILL'); return this.exited }
}

const messagesOf = (child) => child.lines.filter((l) => l.ev === 'message').map((l) => l.msg)

/** Publishes from `from` until every one of `to` has a message on `channel`. */
async function primeAll (publish, to, channel) {
  for (let i = 0; i < 100; i++) {
    publish(i)
    await sleep(30)
    if (to.every((got) => got().some((m) => m[0] === channel))) return
  }
  throw new Error('subscriptions never took effect')
}

test('three node processes elect the highest priority and exchange messages by exact channel', async () => {
  const opts = loopbackOpts()
  const nodes = [2, 0, 1].map((p) => new Child({ ...opts, election_priority: p }))
  try {
    const ids = await Promise.all(nodes.map((n) => n.wait('started').then((l) => l.id)))
    await Promise.all(nodes.map((n) => n.wait('ready', 8000)))
    for (const n of nodes) {
      const e = await n.wait('elected', 2000, (l) => l.id === ids[0])
      assert.equal(e.isMe, n === nodes[0])
    }
    nodes[1].send({ cmd: 'subscribe', channels: ['equity'] })
    nodes[2].send({ cmd: 'subscribe', channels: ['*'] })
    await primeAll((i) => nodes[0].send({ cmd: 'publish', args: ['equity', 'probe', i] }),
      [() => messagesOf(nodes[1]), () => messagesOf(nodes[2])], 'equity')
    await sleep(100)
    const before1 = messagesOf(nodes[1]).length
    const before2 = messagesOf(nodes[2]).length
    nodes[0].send({ cmd: 'publish', args: ['equity2', 'x'] })
    nodes[0].send({ cmd: 'publish', args: ['equity', 'AAPL', 500.0] })
    await until(() => messagesOf(nodes[2]).length === before2 + 2)
    await sleep(100)
    assert.deepEqual(messagesOf(nodes[1]).slice(before1), [['equity', 'AAPL', '500']])
    assert.deepEqual(messagesOf(nodes[2]).slice(before2), [['equity2', 'x'], ['equity', 'AAPL', '500']])
  } finally {
    await Promise.all(nodes.map((n) => n.kill()))
  }
})

for (const peerIsMaster of [true, false]) {
  test(`mixed cluster with the spec-written JS peer as ${peerIsMaster ? 'master' : 'follower'}`, async () => {
    const opts = loopbackOpts()
    const peer = new Peer({
      multicast_addr: opts.multicast_addr,
      multicast_port: opts.multicast_port,
      election_timeout: opts.election_timeout,
      heartbeat_period: opts.heartbeat_period,
      heartbeat_timeout: opts.heartbeat_timeout,
      election_priority: peerIsMaster ? 9 : 0
    })
    const ours = new Child({ ...opts, election_priority: peerIsMaster ? 0 : 9 })
    try {
      const peerId = (await peer.wait('started', 8000)).id
      const ourId = (await ours.wait('started')).id
      const masterId = peerIsMaster ? peerId : ourId
      await ours.wait('elected', 8000, (l) => l.id === masterId)
      await ours.wait('ready', 8000)
      await peer.wait('elected', 8000, (m) => m.id === masterId)
      peer.send({ cmd: 'subscribe', channel: 'equity' })
      ours.send({ cmd: 'subscribe', channels: ['equity'] })
      await primeAll((i) => ours.send({ cmd: 'publish', args: ['equity', 'ours', i] }),
        [() => peer.messages, () => messagesOf(ours)], 'equity')
      await primeAll((i) => peer.send({ cmd: 'publish', channel: 'equity', args: ['peer', String(i)] }),
        [() => messagesOf(ours).filter((m) => m[1] === 'peer')], 'equity')
      ours.send({ cmd: 'publish', args: ['equity', 'AAPL', '500', 'last'] })
      await until(() => peer.messages.some((m) => m[3] === 'last'))
      assert.deepEqual(peer.messages.find((m) => m[3] === 'last'), ['equity', 'AAPL', '500', 'last'])
    } finally {
      await Promise.all([peer.kill(), ours.kill()])
    }
  })
}

test('the README example runs unchanged on loopback and prints the quote', async () => {
  // ZMQBUS_MULTICAST_INTERFACE=127.0.0.1 stands in for multicast_interface: '127.0.0.1'.
  const proc = spawn(process.execPath, [EXAMPLE], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ZMQBUS_MULTICAST_INTERFACE: '127.0.0.1' }
  })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  try {
    const line = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no output within 15 s')), 15000)
      readline.createInterface({ input: proc.stdout }).on('line', (l) => { clearTimeout(timer); resolve(l) })
    })
    assert.equal(line, 'received equity,AAPL,500')
  } finally {
    proc.kill('SIGKILL')
    await exited
  }
})

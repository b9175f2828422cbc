'use strict'
// Malformed pigato (MDP) traffic against our Broker from a fake client and a fake worker (libzmq
// DEALERs from the `zeromq` package, so every frame is well-formed ZMTP and only MDP is wrong):
// short messages, unknown types and headers, replies for unknown requests, invalid JSON, a
// READY without a service, 10,000 partials for a request that does not exist, a 10 MB frame.
// The target (a child process) also serves a real worker and client: after every burst it
// answers a real request within a second, counts what it dropped, and keeps its descriptors.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const zmq = require('zeromq/v5-compat')
const { uniqAddress, spawnNode, delay } = require('./helpers')

const TARGET = path.join(__dirname, 'fixtures', 'hostile-target.js')

describe('a broker facing malformed MDP traffic', () => {
  let target
  let addr
  let probes = 0
  let startFds = 0
  const fakes = []

  before(async () => {
    addr = await uniqAddress('tcp')
    target = spawnNode(TARGET, [addr, 1500])
    await target.waitJson((m) => m.event === 'started', 5000)
    await probe()
    startFds = (await stats()).fds
  })
  after(async () => {
    for (const f of fakes) f.close()
    if (target) await target.kill('SIGTERM')
  })

  async function stats () {
    target.send({ cmd: 'stats' })
    return target.waitJson((m) => m.event === 'stats', 3000)
  }

  async function probe () {
    const id = `p${++probes}`
    target.send({ cmd: 'probe', id })
    const got = await target.waitJson((m) => m.event === 'probe' && m.id === id, 3000)
    assert.ok(got.ok, `probe failed: ${JSON.stringify(got)}`)
    assert.ok(got.ms < 1000, `probe took ${got.ms} ms`)
  }

  /** A libzmq DEALER with `identity` connected to the broker; collects what it receives. */
  function fake (identity) {
    const d = zmq.socket('dealer')
    d.identity = identity
    d.linger = 0
    d.connect(addr)
    d.got = []
    d.on('message', (...frames) => d.got.push(frames.map(String)))
    fakes.push(d)
    return d
  }

  /** Sends every message of `burst`, waits a little, and checks the broker is still fine. */
  async function survive (sock, burst) {
    for (const frames of burst) sock.send(frames)
    await delay(300)
    await probe()
  }

  it('drops malformed client messages and keeps serving', async () => {
    const c = fake('Cfake')
    await survive(c, [
      ['C'],
      ['C', '2'],
      ['C', '2', 'echo'],
      ['C', '99', 'x'],
      ['X', '2', 'echo', 'r0', '1', '{}'],
      ['', 'C', '2'],
      ['C', '4', 'request', 'no-such-rid'],
      ['C', '4', 'worker', 'no-such-worker']
    ])
    // Invalid JSON in data and options is passed on (pigato does), and the request is served.
    c.send(['C', '2', 'echo', 'bad-json', '{not json', '{neither'])
    for (let i = 0; i < 100 && !c.got.some((f) => f[3] === 'bad-json' && f[1] === '3'); i++) await delay(20)
    assert.ok(c.got.some((f) => f[3] === 'bad-json' && f[1] === '3'), 'the request with invalid JSON was answered')
    const s = (await stats()).stats
    assert.ok(s.droppedMalformed > 0, JSON.stringify(s))
  })

  it('disconnects a fake worker that replies for requests it never had, and counts it', async () => {
    const w = fake('Wfake')
    const before = (await stats()).stats.droppedProtocol
    await survive(w, [['W', '3', 'cli', '', 'never-assigned', '0', '"x"', '{}']])
    for (let i = 0; i < 50 && !w.got.some((f) => f[0] === 'W' && f[1] === '5'); i++) await delay(20)
    assert.ok(w.got.some((f) => f[0] === 'W' && f[1] === '5'), 'the broker told it to disconnect')
    assert.ok((await stats()).stats.droppedProtocol > before)
  })

  it('survives a READY without a service, bad heartbeats and 10,000 partials for an unknown request', async () => {
    const w = fake('Wflood')
    const burst = [['W', '1'], ['W', '4', '', '{not json'], ['W', '6'], ['W', '1', 'svc-x'], ['W', '4', '', '{"concurrency":"lots"}']]
    for (let i = 0; i < 10000; i++) burst.push(['W', '6', 'cli', '', `ghost-${i}`, '0', '"p"', '{}'])
    await survive(w, burst)
    await delay(500)
    await probe()
  })

  it('survives a 10 MB frame from a client for a service nobody serves', async () => {
    const c = fake('Cbig')
    await survive(c, [['C', '2', 'nobody', 'big', Buffer.alloc(10 * 1024 * 1024, 0x61), '{"timeout":200}']])
  })

  it('gives back its descriptors once the fakes are gone', async () => {
    for (const f of fakes.splice(0)) f.close()
    let s
    for (let i = 0; i < 50; i++) {
      s = await stats()
      if (s.fds <= startFds) break
      await delay(100)
    }
    assert.ok(s.fds <= startFds, `fds ${s.fds} > ${startFds}`)
    await probe()
  })
})

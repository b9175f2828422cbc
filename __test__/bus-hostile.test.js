'use strict'
// Hostile peers against a bus node's forwarder (both listening sides run on our own ZMTP engine): frames
// announcing 2^40 and 2^62 bytes before and after the handshake, an unknown mechanism, random bytes after a
// valid greeting. After each, the node is alive and its own publish still reaches its own subscription.
const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { loopbackOpts, startNode, nextEvent, sleep } = require('./bus-helpers')

const started = []
after(() => Promise.all(started.filter((n) => !n.stopped).map((n) => n.stop())))

function greeting (mechanism = 'NULL') {
  const g = Buffer.alloc(64)
  g[0] = 0xff
  g[8] = 1
  g[9] = 0x7f
  g[10] = 3
  g[11] = 1
  g.write(mechanism, 12, 'ascii')
  return g
}

function ready (socketType) {
  const prop = (name, value) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(value.length)
    return Buffer.concat([Buffer.from([name.length]), Buffer.from(name), len, Buffer.from(value)])
  }
  const body = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), prop('Socket-Type', socketType)])
  return Buffer.concat([Buffer.from([0x04, body.length]), body])
}

function longHeader (size, command) {
  const h = Buffer.alloc(9)
  h[0] = command ? 0x06 : 0x02
  h.writeBigUInt64BE(size, 1)
  return h
}

/** Writes `bytes` to `endpoint` and resolves true once the node closes the connection. */
function attack (endpoint, bytes) {
  const [host, port] = endpoint.replace('tcp://', '').split(':')
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host === '0.0.0.0' ? '127.0.0.1' : host)
    const timer = setTimeout(() => { s.destroy(); resolve(false) }, 3000)
    const done = () => { clearTimeout(timer); s.destroy(); resolve(true) }
    s.on('connect', () => s.write(bytes))
    s.on('data', () => {})
    s.on('end', done)
    s.on('close', done)
    s.on('error', done)
  })
}

test("a node's forwarder closes hostile connections and keeps relaying", async () => {
  const node = startNode(loopbackOpts())
  started.push(node)
  const got = []
  node.on('message', (msg) => got.push(msg))
  await nextEvent(node, 'ready')
  node.subscribe('ch')
  /** Publishes until one arrives (subscriptions travel apart from publishes). */
  async function delivered (tag) {
    got.length = 0
    for (let i = 0; i < 100 && got.length === 0; i++) {
      node.publish('ch', tag)
      await sleep(20)
    }
    assert.ok(got.length > 0, `no delivery after ${tag}`)
  }
  await delivered('before')
  let seed = 7
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed & 0xff }
  const junk = Buffer.from(Array.from({ length: 2048 }, rand))
  for (const [side, endpoint, type] of [['SUB', node.subAddr, 'PUB'], ['PUB', node.pubAddr, 'SUB']]) {
    const cases = [
      ['2^40 before the handshake', Buffer.concat([greeting(), longHeader(1n << 40n, true)])],
      ['2^62 before the handshake', Buffer.concat([greeting(), longHeader(1n << 62n, true)])],
      ['2^40 after the handshake', Buffer.concat([greeting(), ready(type), longHeader(1n << 40n, false)])],
      ['2^62 after the handshake', Buffer.concat([greeting(), ready(type), longHeader(1n << 62n, false)])],
      ['an unknown mechanism', greeting('FOOBAR')],
      ['random bytes after a greeting', Buffer.concat([greeting(), junk])]
    ]
    for (const [name, bytes] of cases) {
      assert.ok(await attack(endpoint, bytes), `${side} side kept ${name} open`)
      await delivered(`${side}: ${name}`)
    }
  }
  // Every refusal is counted, per side (the counters refresh every 100 ms).
  let s
  for (let i = 0; i < 50; i++) {
    s = node.stats().forwarder
    if (s.sub.refusedTotal >= 6 && s.pub.refusedTotal >= 6) break
    await sleep(50)
  }
  assert.ok(s.sub.refusedTotal >= 6 && s.pub.refusedTotal >= 6, JSON.stringify(s))
  assert.ok(s.sub.refused.frame_too_large >= 4 && s.pub.refused.unknown_mechanism >= 1, JSON.stringify(s))
})

'use strict'
// The old `zmq` module's tcp options act on the kernel's sockets, on ours and on zeromq@6's
// v5-compat (ZMQ_IMPL=zeromq): ZMQ_BACKLOG on the listener, ZMQ_TCP_KEEPALIVE(_IDLE) and
// ZMQ_SNDBUF/ZMQ_RCVBUF on connected and accepted streams. Read back from the kernel with
// `ss` (iproute2), which reports a listener's backlog, a socket's keepalive timer and its
// buffer sizes.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const { IMPL, zmq } = require('./impl')
const { uniqAddress, waitFor } = require('../helpers')

const port = (addr) => Number(addr.split(':').pop())

/** `ss` lines (no header) for tcp sockets matching `filter`, with extra `flags`. */
function ss (flags, filter) {
  const out = execFileSync('ss', [`-tnH${flags}`, filter], { encoding: 'utf8' })
  return out.split('\n').filter((l) => l.trim() !== '')
}

function socketOn (type, options, fn) {
  const s = zmq.socket(type)
  // Numeric keys are option numbers (v5-compat knows the keepalive options by number only).
  for (const [k, v] of Object.entries(options)) s.setsockopt(/^\d+$/.test(k) ? Number(k) : k, v)
  fn(s)
  return s
}

test(`${IMPL}: ZMQ_BACKLOG is the listener's backlog (libzmq's 100 when not set)`, () => {
  return (async () => {
    const [a, b] = [await uniqAddress(), await uniqAddress()]
    const set = socketOn('pull', { backlog: 7 }, (s) => s.bindSync(a))
    const dflt = socketOn('pull', {}, (s) => s.bindSync(b))
    try {
      // Listening sockets: State Recv-Q Send-Q(backlog) Local Peer.
      const backlog = (addr) => Number(ss('l', `sport = :${port(addr)}`)[0].trim().split(/\s+/)[2])
      assert.equal(backlog(a), 7)
      assert.equal(backlog(b), 100)
    } finally {
      set.close()
      dflt.close()
    }
  })()
})

test(`${IMPL}: ZMQ_TCP_KEEPALIVE and _IDLE arm the keepalive timer on both ends`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress()
  const router = socketOn('router', { [zmq.ZMQ_TCP_KEEPALIVE]: 1, [zmq.ZMQ_TCP_KEEPALIVE_IDLE]: 40 }, (s) => s.bindSync(addr))
  const dealer = socketOn('dealer', { [zmq.ZMQ_TCP_KEEPALIVE]: 1, [zmq.ZMQ_TCP_KEEPALIVE_IDLE]: 30 }, (s) => s.connect(addr))
  const plain = socketOn('dealer', {}, (s) => s.connect(addr))
  try {
    // Established sockets with timers (-o): "... timer:(keepalive,29sec,0)". Right after connecting a
    // socket may still show its retransmit timer ("timer:(on,...)") instead, so wait for the settled view.
    const keepalive = (l) => /timer:\(keepalive,/.test(l)
    const lines = await waitFor(() => {
      const l = ss('o', `dport = :${port(addr)}`)
      return l.length === 2 && l.some(keepalive) && l.every((x) => keepalive(x) || !/timer:\(on/.test(x)) && l
    }, 5000, 20, 'the dealers\' keepalive timers')
    assert.equal(lines.filter(keepalive).length, 1, `one of the two dealers has keepalive:\n${lines.join('\n')}`)
    assert.match(lines.filter(keepalive)[0], /keepalive,(2\d|30)sec/, 'its idle time is 30 s')
    const accepted = await waitFor(() => {
      const l = ss('o', `sport = :${port(addr)}`)
      return l.length === 2 && l.every(keepalive) && l
    }, 5000, 20, 'the router\'s keepalive timers')
    assert.ok(accepted.every((l) => /keepalive,(3\d|40)sec/.test(l)), `the router's accepted streams:\n${accepted.join('\n')}`)
  } finally {
    dealer.close()
    plain.close()
    router.close()
  }
})

test(`${IMPL}: ZMQ_SNDBUF and ZMQ_RCVBUF size the kernel buffers (Linux reports twice the value)`, { timeout: 15000 }, async () => {
  const addr = await uniqAddress()
  const pull = socketOn('pull', { rcvbuf: 96 * 1024 }, (s) => s.bindSync(addr))
  const push = socketOn('push', { sndbuf: 80 * 1024 }, (s) => s.connect(addr))
  try {
    // -m: "skmem:(r0,rb<rcvbuf>,t0,tb<sndbuf>,...)" on the line after the socket's.
    const mem = (filter) => ss('m', filter).join(' ')
    const pushSide = await waitFor(() => { const m = mem(`dport = :${port(addr)}`); return m.includes('skmem') && m }, 5000, 20, 'push side')
    assert.match(pushSide, new RegExp(`tb${2 * 80 * 1024}\\b`), pushSide)
    const pullSide = await waitFor(() => { const m = mem(`sport = :${port(addr)}`); return m.includes('skmem') && m }, 5000, 20, 'pull side')
    assert.match(pullSide, new RegExp(`rb${2 * 96 * 1024}\\b`), pullSide)
  } finally {
    push.close()
    pull.close()
  }
})

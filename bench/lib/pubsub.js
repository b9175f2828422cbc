'use strict'
// Pub/sub runs: one publisher and `subs` subscribers of one `kind` (see
// bench/roles/pubsub.js), each its own process. The publisher warms up until
// every subscriber has seen a message (no slow-joiner loss is counted), then
// sends N messages as fast as its client lets it. Throughput is deliveries
// per second from the publisher's first send to the last arrival at any
// subscriber; every message a subscriber did not get counts as lost.

const { startRole, freePort, cpuOf } = require('./proc')

/**
 * @param {string} kind  zeromq | nats | redis | ours-sockets | ours-bus
 * @param {{subs:number, n:number, size?:number, idleMs?:number, port?:number, serverPid?:number}} cfg
 * idleMs: a subscriber that got nothing for this long is done (the rest is lost)
 */
async function pubsub (kind, { subs, n, size = 16, idleMs = 1000, port, serverPid }) {
  const p = port || (await freePort())
  const args = ['--kind', kind, '--port', p, '--n', n, '--size', size]
  const roles = []
  const start = (r) => { roles.push(r); return r }
  try {
    // A bound publisher first (zeromq binds there); the others do not care.
    const pub = start(startRole('pubsub.js', ['--role', 'pub', ...args]))
    await pub.next('ready', 20000)
    const ss = Array.from({ length: subs }, () => start(startRole('pubsub.js', ['--role', 'sub', ...args, '--idle', idleMs])))
    await Promise.all(ss.map((s) => s.next('ready', 20000)))
    pub.send({ cmd: 'warm' })
    await Promise.all(ss.map((s) => s.next('warm', 20000)))
    const pids = [pub.pid, ...ss.map((s) => s.pid), ...(serverPid ? [serverPid] : [])]
    const cpu0 = cpuOf(pids)
    pub.send({ cmd: 'go' })
    const pr = await pub.next('result', 300000)
    // Subscribers end by count or by 1 s of silence; nudge them after that.
    const nudge = setTimeout(() => ss.forEach((s) => s.send({ cmd: 'finish' })), 3000)
    const rs = await Promise.all(ss.map((s) => s.next('result', 300000)))
    clearTimeout(nudge)
    const cpuSec = cpuOf(pids) - cpu0
    const received = rs.reduce((s, r) => s + r.received, 0)
    const lastAt = Math.max(...rs.map((r) => r.last || 0))
    const seconds = (lastAt - pr.t0) / 1000
    const expected = n * subs
    return {
      value: received > 0 ? received / seconds : 0,
      unit: 'msg/s delivered',
      extra: {
        sent: n,
        subscribers: subs,
        received,
        lost: expected - received,
        lossPct: (100 * (expected - received)) / expected,
        publishSeconds: pr.ms / 1000,
        seconds,
        cpuSec,
        cpuPerMillion: received > 0 ? (cpuSec / received) * 1e6 : null,
        perSubscriber: rs.map((r) => r.received)
      }
    }
  } finally {
    await Promise.all(roles.map((r) => r.stop()))
  }
}

module.exports = { pubsub }

#!/usr/bin/env node
'use strict'
// Chaos case 5: a rogue host on the bus's LAN forges election datagrams. Three bus nodes and a
// rogue, each in its own network namespace on one bridge. The rogue claims the best possible id
// (0000000001, priority 99) and runs a forwarder of its own to catch what the cluster publishes:
// it sends `winner`, `hb` and `candidate` datagrams unsigned, with made-up MACs, sealed with a
// guessed key, and replays (also altered) of the genuine signed datagrams it overhears (in the full
// run also some older than the 30 s replay window).
// - with a cluster_key: 0 accepted (the master never changes, the rogue catches nothing), every
//   forgery dropped and counted by reason, and the paced messages all delivered;
// - without a key (the control): the rogue wins the election and receives the cluster's messages,
//   which is what cluster_key exists to prevent.
//
//   node chaos/cases/05-bus-rogue.js [--short]
const crypto = require('node:crypto')
const lib = require('./bus-lib')

const CASE = '5'
const TITLE = 'bus: forged election datagrams from a rogue host'
const KEY = crypto.randomBytes(24).toString('base64')
const FAST = { election_timeout: 300, heartbeat_period: 200, heartbeat_timeout: 800 }
// The full run lasts past the 30 s replay window, to replay old genuine datagrams as well (stale).
const ATTACK_MS = lib.SHORT ? 3000 : 40000
const STALE_AFTER_MS = 32000
const INTERVAL = 20
const ROGUE_ID = '0000000001'

if (process.argv[2] === '--rogue') {
  rogue(JSON.parse(process.argv[3]))
} else {
  lib.run(CASE, TITLE, main)
}

async function main () {
  const net = lib.lan(4, 'r')
  const keyed = await phase(net, { cluster_key: KEY, multicast_port: 45001 }, 'keyed')
  const open = await phase(net, { multicast_port: 45002 }, 'keyless')
  const attackHeld = keyed.accepted === 0 && keyed.captured === 0 && keyed.lost === 0 && keyed.refusedMin > 0
  const controlShows = open.rogueWon && open.captured > 0
  const figures = {
    forgedSentWithKey: keyed.sent,
    acceptedWithKey: keyed.accepted,
    capturedWithKey: keyed.captured,
    lostWithKey: keyed.lost,
    refusedPerNodeWithKey: keyed.refusedMin,
    refusedByReasonWithKey: keyed.refusedBy,
    rogueWonWithoutKey: open.rogueWon,
    capturedWithoutKey: open.captured,
    takeoverMsWithoutKey: open.takeoverMs
  }
  const note = `with cluster_key: ${keyed.sent} forged datagrams sent, ${keyed.accepted} accepted, each node refused >= ${keyed.refusedMin} ` +
    `(${Object.entries(keyed.refusedBy).map(([r, n]) => `${r} ${n}`).join(', ')}), the rogue caught ${keyed.captured} messages, ${keyed.lost} lost; ` +
    `without a key the rogue ${open.rogueWon ? `won the election in ${open.takeoverMs} ms and caught ${open.captured} messages` : 'did not win (the control failed)'}`
  return { case: CASE, title: TITLE, held: attackHeld && controlShows, figures, note }
}

/** One run: three nodes elect, the rogue attacks while node 2 publishes; what did it get? */
async function phase (net, extra, name) {
  const group = { ...FAST, multicast_addr: '239.1.2.3', ...extra }
  const nodes = [5, 3, 1].map((p, i) => lib.busNode({ ...group, election_priority: p }, net.names[i], { gated: true }))
  const ids = await lib.goAll(nodes)
  await Promise.all(nodes.map((n) => n.wait('ready', 10000)))
  for (const n of nodes) await n.wait('elected', 5000, (l) => l.id === ids[0])
  lib.log(`${name}: node 0 (${ids[0]}) elected by all three`)
  for (const n of nodes.slice(1)) n.send({ cmd: 'subscribe', channels: ['secret'] })
  if (!(await lib.prime(nodes[2], nodes.slice(1), 'secret'))) throw new Error(`${name}: the data path never carried a message`)

  const rogueOpts = { ...group, ip: net.ips[3], period: FAST.heartbeat_period / 2, attackMs: ATTACK_MS }
  const rogueProc = lib.own(rogueChild(net.names[3], rogueOpts))
  const rogueStarted = await rogueProc.wait('started', 10000)
  const attackAt = Date.now()
  const count = Math.floor(ATTACK_MS / INTERVAL)
  nodes[2].send({ cmd: 'pace', channel: 'secret', tag: 'paced', count, interval: INTERVAL })
  const report = await rogueProc.wait('report', ATTACK_MS + 10000)
  await nodes[2].wait('paced', 10000).catch(() => null)
  await lib.sleep(500)
  const statuses = await Promise.all(nodes.map(lib.status))
  rogueProc.kill()

  const electedRogue = nodes.map((n) => n.lines.find((l) => l.ev === 'elected' && l.id === ROGUE_ID))
  const accepted = electedRogue.filter(Boolean).length
  const takeover = electedRogue.filter(Boolean).map((l) => l.t - attackAt)
  const refusedBy = {}
  let refusedMin = Infinity
  for (const s of statuses) {
    const by = (s && s.stats.refusedDatagramsByReason) || {}
    for (const [r, n] of Object.entries(by)) if (n) refusedBy[r] = (refusedBy[r] || 0) + n
    refusedMin = Math.min(refusedMin, s ? s.stats.refusedDatagrams : 0)
  }
  const lost = count - lib.seqs(nodes[1], 'paced').size
  lib.log(`${name}: rogue ${rogueStarted.sub} sent ${report.sent} (${JSON.stringify(report.kinds)}), caught ${report.captured}; ` +
    `${accepted} nodes elected it; masters ${statuses.map((s) => s && s.master)}; refused ${JSON.stringify(refusedBy)}; lost ${lost}/${count}`)
  for (const n of nodes) n.kill()
  await Promise.all(nodes.map((n) => n.exited))
  return {
    sent: report.sent,
    accepted,
    captured: report.captured,
    lost,
    refusedBy,
    refusedMin: Number.isFinite(refusedMin) ? refusedMin : 0,
    rogueWon: accepted === nodes.length,
    takeoverMs: takeover.length ? Math.max(...takeover) : null
  }
}

/** The rogue as a child process inside namespace `netns` (JSON lines on stdout). */
function rogueChild (netns, opts) {
  const { spawn } = require('node:child_process')
  const readline = require('node:readline')
  const { EventEmitter } = require('node:events')
  const proc = spawn('ip', ['netns', 'exec', netns, process.execPath, __filename, '--rogue', JSON.stringify(opts)],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  const r = Object.assign(new EventEmitter(), { proc, lines: [] })
  r.exited = new Promise((resolve) => proc.once('exit', resolve))
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let msg
    try { msg = JSON.parse(line) } catch { return }
    r.lines.push(msg)
    r.emit(msg.ev, msg)
  })
  r.wait = (ev, ms) => {
    const seen = r.lines.find((l) => l.ev === ev)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rogue: no ${ev} within ${ms} ms`)), ms)
      r.once(ev, (l) => { clearTimeout(timer); resolve(l) })
    })
  }
  r.kill = () => { try { proc.kill('SIGKILL') } catch {} }
  return r
}

/** Signs like a keyed node would, with a key of our own guess (see src/bus/auth.rs). */
function sealWith (key, content, ts) {
  const macKey = Buffer.from(crypto.hkdfSync('sha256', key, 'zmqbus cluster_key v1', 'discovery hmac-sha256', 32))
  const sender = crypto.randomBytes(8)
  const t = Buffer.alloc(8)
  t.writeBigUInt64BE(BigInt(ts))
  const mac = crypto.createHmac('sha256', macKey).update('zmqbus datagram v1\0').update(sender).update(t).update(content).digest('hex')
  return Buffer.from(`${content}\nZBMAC1 ${sender.toString('hex')} ${ts} ${mac}`)
}

/** The rogue: a forwarder that counts what reaches it, and a stream of forged datagrams. */
function rogue (o) {
  const dgram = require('node:dgram')
  const zmq = require(lib.ROOT)
  const out = (x) => process.stdout.write(JSON.stringify(x) + '\n')
  // Never outlive the case, even one killed before it could kill us.
  setTimeout(() => process.exit(0), o.attackMs + 30000).unref()
  let captured = 0
  const sub = zmq.socket('sub')
  const pub = zmq.socket('pub')
  sub.subscribe('')
  sub.on('message', (...frames) => { captured++; pub.send(frames) })
  sub.bindSync(`tcp://${o.ip}:*`)
  pub.bindSync(`tcp://${o.ip}:*`)
  const meta = { id: ROGUE_ID, sub_addr: sub.lastEndpoint, pub_addr: pub.lastEndpoint }
  const kinds = {}
  const genuine = []
  const kept = [] // the first genuine datagrams, replayed once they are older than the window
  const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  const send = (kind, buf) => {
    kinds[kind] = (kinds[kind] || 0) + 1
    udp.send(buf, o.multicast_port, o.multicast_addr)
  }
  udp.on('message', (buf, rinfo) => {
    if (rinfo.address === o.ip) return // our own forgeries, looped back
    const text = buf.toString()
    if (text.includes('\nZBMAC1 ') && kept.length < 4) kept.push(buf)
    else if (text.includes('\nZBMAC1 ') && genuine.length < 64) genuine.push(buf)
    // Answer every election as the best candidate, as a node of the original would.
    if (text.startsWith('["elect","start"]')) send('candidate', Buffer.from(JSON.stringify(['elect', 'candidate', meta, { id: '' }])))
  })
  udp.bind(o.multicast_port, o.multicast_addr, () => {
    udp.setMulticastInterface(o.ip)
    udp.addMembership(o.multicast_addr, o.ip)
    udp.setMulticastTTL(1)
    out({ ev: 'started', sub: meta.sub_addr })
    const winner = JSON.stringify(['elect', 'winner', meta])
    const hb = JSON.stringify(['hb', ROGUE_ID])
    const guessed = 'a guess at the cluster key ' + crypto.randomBytes(4).toString('hex')
    const timer = setInterval(() => {
      const now = Date.now()
      send('unsigned', Buffer.from(winner))
      send('unsigned', Buffer.from(hb))
      send('made-up mac', Buffer.from(`${winner}\nZBMAC1 ${crypto.randomBytes(8).toString('hex')} ${now} ${crypto.randomBytes(32).toString('hex')}`))
      send('guessed key', sealWith(guessed, winner, now))
      send('guessed key', sealWith(guessed, hb, now))
      for (const g of genuine.splice(0, 4)) {
        send('replay', g)
        // The genuine MAC over our id instead of the real one.
        send('altered', Buffer.from(g.toString().replace(/"\d{10}"/, `"${ROGUE_ID}"`)))
      }
    }, o.period)
    const stale = setTimeout(() => { for (const g of kept) send('stale replay', g) }, STALE_AFTER_MS)
    setTimeout(() => {
      clearInterval(timer)
      clearTimeout(stale)
      const sent = Object.values(kinds).reduce((a, b) => a + b, 0)
      out({ ev: 'report', sent, kinds, captured })
    }, o.attackMs)
  })
}

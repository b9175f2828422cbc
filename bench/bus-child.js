'use strict'
// One process of bench/bus.js. argv[2] is the role, argv[3] the JSON config. Talks JSON lines:
// commands on stdin, reports on stdout. Roles:
//   ours-pub / ours-sub / ours-idle  a zmqbus node (ours), loopback only (multicast_interface 127.0.0.1)
//   js-pub                           JS relay baseline master: forwarder SUB->PUB in JS + a publisher
//   js-sub                           JS relay baseline subscriber
// The baseline is our own code on `zeromq` (v5-compat API, as the original zmqbus used `zmq`),
// with the original's topology: publisher -> elected node's forwarder -> subscriber.
const readline = require('node:readline')

const [role, json] = [process.argv[2], process.argv[3] || '{}']
const config = JSON.parse(json)
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
// Wall-clock milliseconds with sub-ms resolution: comparable across the processes of the bench.
const now = () => performance.timeOrigin + performance.now()

let publishOne = null // (args...) => void
let count = 0
let first = 0
let last = 0

function onMessage (msg) {
  // Counted in the handler; reading frame 0 makes sure the message was really decoded.
  if (msg[0].length === 0) return
  if (count === 0) first = now()
  count++
  last = now()
}

function startOurs () {
  const zmqbus = require('..')
  const node = zmqbus.createNode({ multicast_interface: '127.0.0.1', ...config.node })
  node.on('ready', () => out({ ev: 'ready', id: node.id }))
  let sinceElected = false // failover mode: report the first delivery after each election
  node.on('elected', (e) => { sinceElected = true; out({ ev: 'elected', id: e.id, isMe: e.isMe, t: Date.now() }) })
  node.on('drop', (n, reason) => out({ ev: 'drop', n, reason }))
  node.on('message', (msg) => {
    if (config.failover && sinceElected) { sinceElected = false; out({ ev: 'first', t: Date.now() }) }
    onMessage(msg)
  })
  publishOne = (a, b, c) => node.publish(a, b, c)
  return {
    subscribe: (ch) => node.subscribe(ch),
    stats: () => ({ dropped: node.dropped, drops: node.drops })
  }
}

function startJsMaster () {
  const zmq = require('zeromq/v5-compat')
  const fwdSub = zmq.socket('sub')
  const fwdPub = zmq.socket('pub')
  fwdSub.subscribe('')
  fwdSub.on('message', (...frames) => fwdPub.send(frames))
  fwdSub.bindSync('tcp://127.0.0.1:*')
  fwdPub.bindSync('tcp://127.0.0.1:*')
  const pub = zmq.socket('pub')
  pub.connect(fwdSub.last_endpoint)
  publishOne = (a, b, c) => pub.send([a, b, String(c)])
  out({ ev: 'ready', sub_addr: fwdSub.last_endpoint, pub_addr: fwdPub.last_endpoint })
  return { stats: () => ({}) }
}

function startJsSub () {
  const zmq = require('zeromq/v5-compat')
  const sub = zmq.socket('sub')
  sub.on('message', (...frames) => onMessage(frames))
  sub.connect(config.pub_addr)
  out({ ev: 'ready' })
  return { subscribe: (ch) => sub.subscribe(ch), stats: () => ({}) }
}

/** Publishes `n` messages, unpaced (chunks of 10k per turn) or at `rate` per second. */
function run ({ n, rate }) {
  const t0 = now()
  let sent = 0
  const chunk = 10000
  const step = () => {
    let due = rate ? Math.min(n, Math.floor((now() - t0) * rate / 1000)) : Math.min(n, sent + chunk)
    if (rate) due = Math.min(due, sent + chunk) // never more than one chunk per turn
    for (; sent < due; sent++) publishOne('equity', 'AAPL', 500.0)
    if (sent < n) setImmediate(step)
    else out({ ev: 'published', n, ms: now() - t0, t0 })
  }
  step()
}

function pace ({ interval }) {
  setInterval(() => publishOne('equity', 'AAPL', 500.0), interval)
}

let api
if (role === 'ours-pub' || role === 'ours-sub' || role === 'ours-idle') api = startOurs()
else if (role === 'js-pub') api = startJsMaster()
else if (role === 'js-sub') api = startJsSub()
else throw new Error('unknown role ' + role)

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line)
  switch (cmd.cmd) {
    case 'subscribe': api.subscribe(cmd.channel); break
    case 'warm': publishOne('equity', 'warm', 0); break
    case 'reset': count = 0; first = 0; last = 0; out({ ev: 'reset' }); break
    case 'count': out({ ev: 'count', count, first, last, ...api.stats() }); break
    case 'run': run(cmd); break
    case 'pace': pace(cmd); break
    case 'exit': process.exit(0)
  }
})

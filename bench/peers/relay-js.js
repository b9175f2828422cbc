'use strict'
// zmqbus-style relay baseline in JavaScript on `zeromq`: a forwarder process
// (SUB bound -> PUB bound, every message re-sent unchanged), a publisher
// process (PUB connected to the forwarder's SUB) and a subscriber process (SUB
// connected to its PUB, subscribed to 'equity'). Messages are
// ['equity', 'AAPL', '500'].
// Usage: node bench/peers/relay-js.js [--api v6|compat] [--n 200000] [--rate R (v6)] [--batch 1000 (compat)] [--hwm N]
//   prints one JSON line: sent, relayed, received, loss, msgs/s at the subscriber.
// --api v6 (default): zeromq@6's own API (await send, async iteration), the
//   best a JavaScript relay does today. --api compat: zeromq/v5-compat, the
//   old `zmq` API zmqbus was written against; its send queue slows down as it
//   grows (measured about 64k msgs/s at 5k queued, 10k msgs/s at 100k).
// Roles (started by the run itself): --role forwarder|publisher|subscriber.
const { parseArgs, printJson, watchdog } = require('./common')

const args = parseArgs(undefined, { role: 'run', api: 'v6', rate: 0, n: 200000, batch: 1000, hwm: -1, max_ms: 120000 })
watchdog(args.max_ms)

function zmqSocket(type) {
  const zmq = require('zeromq/v5-compat')
  const s = zmq.socket(type)
  if (args.hwm >= 0) {
    if (type !== 'sub') s.setsockopt('sndhwm', args.hwm)
    if (type !== 'pub') s.setsockopt('rcvhwm', args.hwm)
  }
  return s
}

function onLines(handler) {
  let buf = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk) => {
    buf += chunk
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      try {
        handler(JSON.parse(line))
      } catch {
        // not a command
      }
    }
  })
  process.stdin.on('end', () => process.exit(0))
}

function forwarderCompat() {
  const sub = zmqSocket('sub')
  const pub = zmqSocket('pub')
  let relayed = 0
  sub.subscribe('')
  sub.on('message', (...frames) => {
    relayed += 1
    pub.send(frames)
  })
  let bound = 0
  const ready = () => {
    bound += 1
    if (bound === 2) printJson({ event: 'ready', sub_addr: sub.last_endpoint, pub_addr: pub.last_endpoint })
  }
  sub.bind('tcp://127.0.0.1:*', ready)
  pub.bind('tcp://127.0.0.1:*', ready)
  onLines((cmd) => {
    if (cmd.cmd === 'report') printJson({ event: 'report', relayed })
  })
}

function subscriberCompat() {
  const sub = zmqSocket('sub')
  sub.connect(args.connect)
  sub.subscribe('equity')
  let received = 0
  let first = 0n
  let last = 0n
  let warm = false
  sub.on('message', (channel, symbol, price) => {
    if (symbol.toString() === 'WARMUP') {
      if (!warm) printJson({ event: 'warm' })
      warm = true
      return
    }
    if (received === 0) first = process.hrtime.bigint()
    last = process.hrtime.bigint()
    if (channel.toString() === 'equity' && price.toString() === '500') received += 1
  })
  printJson({ event: 'ready' })
  onLines((cmd) => {
    if (cmd.cmd === 'report') printJson({ event: 'report', received, span_ms: Number(last - first) / 1e6 })
  })
}

function publisherCompat() {
  const pub = zmqSocket('pub')
  pub.connect(args.connect)
  const warmup = setInterval(() => pub.send(['equity', 'WARMUP', '0']), 20)
  printJson({ event: 'ready' })
  onLines((cmd) => {
    if (cmd.cmd !== 'go') return
    clearInterval(warmup)
    const t0 = process.hrtime.bigint()
    let sent = 0
    const step = () => {
      const end = Math.min(args.n, sent + args.batch)
      for (; sent < end; sent++) {
        if (sent === args.n - 1) {
          pub.send(['equity', 'AAPL', '500'], 0, () => {
            printJson({ event: 'done', sent: args.n, elapsed_ms: Number(process.hrtime.bigint() - t0) / 1e6 })
          })
        } else {
          pub.send(['equity', 'AAPL', '500'])
        }
      }
      if (sent < args.n) setImmediate(step)
    }
    step()
  })
}

function v6Socket(Type) {
  const zmq = require('zeromq')
  const s = new zmq[Type]()
  if (args.hwm >= 0) {
    if (Type !== 'Subscriber') s.sendHighWaterMark = args.hwm
    if (Type !== 'Publisher') s.receiveHighWaterMark = args.hwm
  }
  return s
}

async function forwarderV6() {
  const sub = v6Socket('Subscriber')
  const pub = v6Socket('Publisher')
  sub.subscribe()
  await sub.bind('tcp://127.0.0.1:*')
  await pub.bind('tcp://127.0.0.1:*')
  let relayed = 0
  onLines((cmd) => {
    if (cmd.cmd === 'report') printJson({ event: 'report', relayed })
  })
  printJson({ event: 'ready', sub_addr: sub.lastEndpoint, pub_addr: pub.lastEndpoint })
  for await (const frames of sub) {
    relayed += 1
    await pub.send(frames)
  }
}

async function subscriberV6() {
  const sub = v6Socket('Subscriber')
  sub.connect(args.connect)
  sub.subscribe('equity')
  let received = 0
  let first = 0n
  let last = 0n
  let warm = false
  onLines((cmd) => {
    if (cmd.cmd === 'report') printJson({ event: 'report', received, span_ms: Number(last - first) / 1e6 })
  })
  printJson({ event: 'ready' })
  for await (const [channel, symbol, price] of sub) {
    if (symbol.toString() === 'WARMUP') {
      if (!warm) printJson({ event: 'warm' })
      warm = true
      continue
    }
    if (received === 0) first = process.hrtime.bigint()
    last = process.hrtime.bigint()
    if (channel.toString() === 'equity' && price.toString() === '500') received += 1
  }
}

async function publisherV6() {
  const pub = v6Socket('Publisher')
  pub.connect(args.connect)
  let go = false
  onLines((cmd) => {
    if (cmd.cmd === 'go') go = true
  })
  printJson({ event: 'ready' })
  // One send at a time on a v6 socket: warm-up and the run share one loop.
  while (!go) {
    await pub.send(['equity', 'WARMUP', '0'])
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const t0 = process.hrtime.bigint()
  const perTick = args.rate > 0 ? Math.max(1, Math.round(args.rate / 100)) : args.n
  for (let i = 0; i < args.n; i++) {
    await pub.send(['equity', 'AAPL', '500'])
    // --rate R: R msgs/s, paced in 10 ms steps against the start time.
    if (args.rate > 0 && (i + 1) % perTick === 0) {
      const due = Number(t0) / 1e6 + ((i + 1) * 1000) / args.rate
      const wait = due - Number(process.hrtime.bigint()) / 1e6
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
  printJson({ event: 'done', sent: args.n, elapsed_ms: Number(process.hrtime.bigint() - t0) / 1e6 })
}

async function run() {
  const path = require('node:path')
  const { spawnNode, waitFor } = require('../../__test__/helpers')
  const me = path.join(__dirname, 'relay-js.js')
  const common = ['--api', args.api, '--hwm', args.hwm, '--max_ms', args.max_ms]
  const procs = []
  try {
    const fwd = spawnNode(me, ['--role', 'forwarder', ...common])
    procs.push(fwd)
    const { sub_addr, pub_addr } = await fwd.waitJson((m) => m.event === 'ready', 10000)
    const sub = spawnNode(me, ['--role', 'subscriber', '--connect', pub_addr, ...common])
    procs.push(sub)
    await sub.waitJson((m) => m.event === 'ready', 10000)
    const pub = spawnNode(me, ['--role', 'publisher', '--connect', sub_addr, '--n', args.n, '--batch', args.batch, '--rate', args.rate, ...common])
    procs.push(pub)
    await pub.waitJson((m) => m.event === 'ready', 10000)
    // Slow joiners: start only once a warm-up message went all the way through.
    await sub.waitJson((m) => m.event === 'warm', 10000)
    // Warm-up messages relayed so far are not part of the run (a warm-up in
    // flight at 'go' may still be counted: off by one at most).
    fwd.send({ cmd: 'report' })
    const warmRelayed = (await fwd.waitJson((m) => m.event === 'report', 5000)).relayed
    pub.send({ cmd: 'go' })
    const done = await pub.waitJson((m) => m.event === 'done', args.max_ms)
    // Wait until the subscriber's count stops moving (bounded).
    let report = { received: -1 }
    let stableSince = Date.now()
    await waitFor(async () => {
      sub.send({ cmd: 'report' })
      const r = await sub.waitJson((m) => m.event === 'report', 5000)
      if (r.received !== report.received) stableSince = Date.now()
      report = r
      return r.received >= args.n || Date.now() - stableSince > 500
    }, 60000, 50, 'the subscriber to settle')
    fwd.send({ cmd: 'report' })
    const relayed = (await fwd.waitJson((m) => m.event === 'report', 5000)).relayed - warmRelayed
    const loss = args.n - report.received
    printJson({
      event: 'result', mode: 'relay-js', api: args.api, n: args.n, rate: args.rate || 'max', hwm: args.hwm < 0 ? 'default' : args.hwm,
      sent: done.sent, relayed, received: report.received, loss, loss_pct: Math.round((loss / args.n) * 10000) / 100,
      publish_ms: Math.round(done.elapsed_ms), receive_span_ms: Math.round(report.span_ms),
      msgs_per_s: report.span_ms > 0 ? Math.round((report.received * 1000) / report.span_ms) : null,
      node: process.version,
    })
  } finally {
    for (const p of procs.reverse()) await p.kill('SIGTERM', 2000)
  }
}

const ROLES = {
  v6: { forwarder: forwarderV6, subscriber: subscriberV6, publisher: publisherV6, run },
  compat: { forwarder: forwarderCompat, subscriber: subscriberCompat, publisher: publisherCompat, run },
}
const role = ROLES[args.api] && ROLES[args.api][args.role]
if (!role) throw new Error(`bad --api ${args.api} / --role ${args.role}`)
Promise.resolve(role()).catch((err) => {
  printJson({ event: 'error', error: String(err && err.stack) })
  process.exitCode = 1
})

'use strict'
// Role: one side of a slow-consumer pair. --pattern bus|sub|pull, --side producer|consumer.
// The producer sends numbered 100-byte messages at --rate per second (in 10 ms slices) until `stop`.
// The consumer's handler busy-waits --cost ms per message (a slow JS handler) for --slow-ms after its
// first message, and counts what it got and the holes in the numbering (messages it never saw).
// bus: --bus '<json options>' (loopback cluster); sub/pull: --addr (the producer binds).
const { args, emit, commands, rssMb } = require('./common')

const a = args()
const pattern = a.pattern
const producer = a.side === 'producer'
let cost = a.cost || 0
const pad = 'x'.repeat(90)

let node = null
let sock = null
let sent = 0
let timer = null

if (pattern === 'bus') {
  const { createNode } = require('../..')
  const opts = JSON.parse(a.bus)
  if (!String(opts.multicast_interface || '').startsWith('127.')) throw new Error('bus roles stay on loopback')
  node = createNode(opts)
  node.on('ready', () => {
    if (!producer) node.subscribe('slow')
    emit({ event: 'ready', master: node.isMaster })
  })
  node.on('error', (err) => emit({ event: 'error', error: String(err) }))
} else {
  const zmq = require('../../zmq')
  sock = zmq.socket(producer ? (pattern === 'sub' ? 'pub' : 'push') : pattern)
  if (producer) {
    sock.bindSync(a.addr)
  } else {
    sock.connect(a.addr)
    if (pattern === 'sub') sock.subscribe('')
  }
  setImmediate(() => emit({ event: 'ready' }))
}

// Consumer. A busy handler can keep the JS thread from stdin for long stretches, so the consumer
// reports by itself (from the handler and from a timer) and ends its slow phase --slow-ms after its
// first message. The longest gap between two ticks of a 100 ms timer shows how long other JS work
// (timers, I/O) waited behind the handler.
let received = 0
let holes = 0
let last = 0
let disorder = 0
let first = 0
let slowUntil = null
let lastReport = 0
let tickAt = Date.now()
let maxTickGap = 0
const { performance } = require('node:perf_hooks')
function report () {
  lastReport = Date.now()
  const out = { event: 'progress', received, first, holes, last, disorder, slow: slowUntil === null || Date.now() < slowUntil, maxTickGapMs: maxTickGap, rss: rssMb(), at: lastReport }
  if (node) out.dropped = node.dropped
  emit(out)
}
function got (seqText) {
  const n = Number(String(seqText).split(':')[0])
  if (received === 0) { first = n; last = n - 1; slowUntil = Date.now() + (a['slow-ms'] || 5000) }
  received++
  if (n > last + 1) holes += n - last - 1
  else if (n <= last) disorder++
  if (n > last) last = n
  if (cost > 0 && Date.now() < slowUntil) {
    const until = performance.now() + cost
    while (performance.now() < until) { /* a slow handler */ }
  }
  if (Date.now() - lastReport >= 250) report()
}
if (!producer) {
  if (node) node.on('message', (msg) => got(msg[1]))
  else sock.on('message', (frame) => got(frame))
  setInterval(() => {
    const now = Date.now()
    maxTickGap = Math.max(maxTickGap, now - tickAt)
    tickAt = now
    if (now - lastReport >= 250) report()
  }, 100)
}

// Producer
function publish () {
  const per = Math.max(1, Math.round(a.rate / 100))
  const t0 = Date.now()
  let slices = 0
  const slice = () => {
    for (let i = 0; i < per; i++) {
      const body = `${++sent}:${pad}`
      if (node) node.publish('slow', body)
      else sock.send(body)
    }
    slices++
    timer = setTimeout(slice, Math.max(0, t0 + slices * 10 - Date.now()))
  }
  slice()
}

commands((cmd) => {
  if (cmd.cmd === 'start') { publish(); return { at: Date.now() } }
  if (cmd.cmd === 'stop') { clearTimeout(timer); return { sent, rss: rssMb() } }
  if (cmd.cmd === 'stats') {
    const out = { sent, rss: rssMb() }
    if (node) out.node = node.stats()
    else { try { out.sock = sock.stats() } catch (e) { out.sock = String(e) } }
    return out
  }
})

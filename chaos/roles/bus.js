'use strict'
// Role: a bus node on a loopback cluster (--bus '<json options>', --priority). --side pub publishes
// numbered messages on 'soak' at --rate per second (10 ms slices) between `start` and `stop`; --side
// sub counts every number it sees (unique, duplicates, holes below the highest); --side relay only
// takes part (a master candidate to kill). Every node reports {event:'progress', master} every 250 ms.
const { createNode } = require('../..')
const { args, emit, commands, rssMb } = require('./common')

const a = args()
const opts = { ...JSON.parse(a.bus), election_priority: a.priority || 0 }
if (!String(opts.multicast_interface || '').startsWith('127.')) throw new Error('bus roles stay on loopback')
if (a.resend) opts.resend_window = a.resend
const node = createNode(opts)
node.on('error', (err) => emit({ event: 'error', error: String(err) }))
node.on('ready', () => {
  if (a.side === 'sub') node.subscribe('soak')
  emit({ event: 'ready' })
})
setInterval(() => emit({ event: 'progress', master: node.isMaster, ready: node.isReady, at: Date.now() }), 250)

let seen = new Uint8Array(1 << 16)
let unique = 0
let duplicates = 0
let high = 0
let first = 0
if (a.side === 'sub') {
  node.on('message', (msg) => {
    const n = Number(String(msg[1]).split(':')[0])
    if (!first) first = n
    while (n >= seen.length) { const bigger = new Uint8Array(seen.length * 2); bigger.set(seen); seen = bigger }
    if (seen[n]) duplicates++
    else { seen[n] = 1; unique++ }
    if (n > high) high = n
  })
}

let sent = 0
let timer = null
function publish () {
  const per = Math.max(1, Math.round(a.rate / 100))
  const t0 = Date.now()
  let slices = 0
  const slice = () => {
    for (let i = 0; i < per; i++) node.publish('soak', `${++sent}:soak`)
    slices++
    timer = setTimeout(slice, Math.max(0, t0 + slices * 10 - Date.now()))
  }
  slice()
}

commands((cmd) => {
  if (cmd.cmd === 'start') { publish(); return { at: Date.now() } }
  if (cmd.cmd === 'stop') { clearTimeout(timer); return { sent } }
  if (cmd.cmd === 'stats') {
    let holes = 0
    const upTo = Math.min(cmd.upTo || high, seen.length - 1)
    for (let i = first || 1; i <= upTo; i++) if (!seen[i]) holes++
    return { sent, unique, duplicates, high, first, holes, master: node.isMaster, dropped: node.dropped, rss: rssMb() }
  }
})
process.on('SIGTERM', () => node.stop(() => process.exit(0)))

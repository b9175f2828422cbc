'use strict'
// Role: --clients Client objects at --addr, each keeping --inflight requests (payload: a sequence
// number) to --service in flight until `stop` (with --once: each sends --inflight requests, then
// idles). A share --retry of the requests carries `retry: 1`; every request has `timeout: --timeout`.
// Outcomes are counted by class (retry / plain) and error code. A final reply for a request that was
// already answered is a duplicate; one for a request that timed out is late; a reply whose data does
// not carry its own sequence number is misrouted. Commands: stats, mark (the next reply's time is
// reported as firstOkAfterMark), stop {ms} (stops sending; waits up to ms for what is out; what is
// still out then is hung).
const { Client } = require('../..')
const { args, emit, commands, rssMb, fds } = require('./common')

const a = args()
const nClients = a.clients || 1
const inflight = a.inflight || 1
const retryShare = a.retry === undefined ? 0.5 : Number(a.retry)
const timeout = a.timeout || 10000
const service = a.service || 'svc'
const startGap = a.gap || 0

const c = {
  sent: 0,
  ok: { retry: 0, plain: 0 },
  failed: { retry: {}, plain: {} },
  duplicates: 0,
  late: 0,
  unknown: 0,
  misrouted: 0,
  connected: 0,
  firstOkAfterMark: null,
  // When every request out at the last `mark` had settled (answered or failed).
  markDrainedAt: null
}
const pendingSeqs = new Set()
let markSet = null
let outstanding = 0
let stopping = false
let markAt = null
let seq = 0
let idle = null
// The rids answered and timed out lately, in two generations of 15 s (O(1) to add and look up): a
// second reply for a request comes within its timeout, and memory stays proportional to the rate,
// not to the run's length (a count-based window made the client's own RSS saw-tooth by tens of MB).
const GENERATION_MS = 15000
const recent = () => {
  let cur = new Set()
  let old = new Set()
  let since = Date.now()
  return {
    add (rid) {
      if (Date.now() - since >= GENERATION_MS) { old = cur; cur = new Set(); since = Date.now() }
      cur.add(rid)
    },
    has: (rid) => cur.has(rid) || old.has(rid)
  }
}
const answered = recent()
const timedOut = recent()
const remember = (set, rid) => set.add(rid)

const clients = []
function makeClient (i) {
  const client = new Client(a.addr, { heartbeat: a.heartbeat || 500, reconnect: a.reconnect || 100 })
  client.on('error', () => {})
  // Which rid each call got, and what arrives for rids no longer pending (the facade drops those).
  let lastRid = null
  const send = client._send
  client._send = function (...args) { lastRid = send.apply(this, args); return lastRid }
  const finish = client._finish
  client._finish = function (rid, status, data) {
    if (!this.reqs.has(rid)) {
      if (answered.has(rid)) c.duplicates++
      else if (timedOut.has(rid)) c.late++
      else c.unknown++
      return
    }
    return finish.call(this, rid, status, data)
  }
  client.once('connect', () => {
    c.connected++
    if (nClients <= 10) emit({ event: 'connect', client: i, at: Date.now() })
  })
  client.on('connect', () => { if (nClients <= 10) emit({ event: 'reconnect', client: i, at: Date.now() }) })
  client.start()
  const one = (paced) => {
    if (stopping) return
    const n = ++seq
    const klass = retryShare > 0 && (n % Math.round(1 / retryShare) === 0) ? 'retry' : 'plain'
    const opts = { timeout }
    if (klass === 'retry') opts.retry = 1
    c.sent++
    outstanding++
    pendingSeqs.add(n)
    const p = client.call(service, n, opts)
    const rid = lastRid
    p.then((data) => {
      remember(answered, rid)
      c.ok[klass]++
      if (typeof data !== 'string' || !data.endsWith(':' + n)) c.misrouted++
      if (markAt !== null && c.firstOkAfterMark === null) c.firstOkAfterMark = Date.now()
    }, (err) => {
      const code = (err && err.code) || String(err)
      if (code === 'C_TIMEOUT') remember(timedOut, rid)
      c.failed[klass][code] = (c.failed[klass][code] || 0) + 1
    }).then(() => {
      pendingSeqs.delete(n)
      if (markSet && markSet.delete(n) && markSet.size === 0) c.markDrainedAt = Date.now()
      outstanding--
      if (idle && outstanding === 0) idle()
      if (!a.once && !paced) one()
    })
  }
  clients.push({ client, one })
}

async function main () {
  for (let i = 0; i < nClients; i++) {
    makeClient(i)
    if (startGap && i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, startGap))
  }
  emit({ event: 'created', clients: nClients })
  if (a.wait !== undefined) {
    // Start sending when told (all processes at once), after every client connected.
    await new Promise((resolve) => { go = resolve })
  }
  if (a.rate) {
    // Paced, not windowed: --rate requests a second (10 ms slices), whatever is still out.
    const per = Math.max(1, Math.round(a.rate / 100))
    const t0 = Date.now()
    let slices = 0
    const slice = () => {
      if (stopping) return
      for (let k = 0; k < per; k++) clients[0].one(true)
      slices++
      setTimeout(slice, Math.max(0, t0 + slices * 10 - Date.now()))
    }
    slice()
  } else {
    for (const { one } of clients) for (let k = 0; k < inflight; k++) one()
  }
  emit({ event: 'sending', at: Date.now() })
}
let go = null

const snapshot = () => ({ ...c, outstanding, rss: rssMb(), fds: fds() })
commands(async (cmd) => {
  if (cmd.cmd === 'stats') return snapshot()
  if (cmd.cmd === 'go') { if (go) go(); return { at: Date.now() } }
  if (cmd.cmd === 'mark') { markAt = Date.now(); c.firstOkAfterMark = null; markSet = new Set(pendingSeqs); c.markDrainedAt = null; return { at: markAt, out: markSet.size } }
  if (cmd.cmd === 'stop') {
    stopping = true
    if (outstanding > 0) {
      await new Promise((resolve) => {
        idle = resolve
        setTimeout(resolve, cmd.ms || 10000)
      })
    }
    return { ...snapshot(), hung: outstanding }
  }
  if (cmd.cmd === 'probe') {
    // One request outside the load (its own counters): answered within cmd.timeout or not.
    const t0 = Date.now()
    try {
      const data = await clients[0].client.call(service, 'probe', { timeout: cmd.timeout || 1000 })
      return { ok: typeof data === 'string' && data.endsWith(':probe'), ms: Date.now() - t0, at: Date.now() }
    } catch (err) {
      return { ok: false, code: (err && err.code) || String(err), ms: Date.now() - t0, at: Date.now() }
    }
  }
  if (cmd.cmd === 'close') { for (const { client } of clients) client.stop(); return { closed: true } }
})
main().catch((err) => { emit({ event: 'fatal', error: String(err && err.stack) }); process.exit(1) })

'use strict'
// Role: a NATS requester on subject 'echo' against nats-server on --port, with
// the same modes and protocol as mdp-client.js (throughput, latency, failover,
// flood; warm-up, {type:'mark'}, {cmd:'go'}, one {type:'result'}).
// In failover mode a request that times out (--retry-timeout ms) is sent again,
// which is how a NATS requester recovers from a lost responder.
const { connect } = require('nats')
const { parseArgs, emit, waitCommand, lastCommand, now, failLoudly } = require('./common')

failLoudly()
const a = parseArgs()
const enc = new TextEncoder()
const dec = new TextDecoder()
const payload = 'x'.repeat(a.size || 16)
let nc

async function request (data, timeout = a.timeout || 30000) {
  const t0 = now()
  try {
    const m = await nc.request('echo', enc.encode(data), { timeout })
    return [null, dec.decode(m.data), now() - t0]
  } catch (err) {
    return [err.code || String(err), null, now() - t0]
  }
}

async function pump (n, k) {
  let next = 0
  let ok = 0
  let errors = 0
  let wrong = 0
  async function lane () {
    while (next < n) {
      const data = payload + (next++)
      const [err, rep] = await request(data)
      if (err) errors++
      else if (rep !== data + 'FINAL') wrong++
      else ok++
    }
  }
  await Promise.all(Array.from({ length: Math.min(k, n) }, lane))
  return { ok, errors, wrong }
}

const modes = {
  async throughput () {
    await pump(a.warmup || 0, a.inflight || 1)
    emit({ type: 'mark' })
    await waitCommand('go')
    const t0 = now()
    const r = await pump(a.n, a.inflight || 1)
    const ms = now() - t0
    return { ...r, sent: a.n, ms, rate: r.ok / (ms / 1000) }
  },
  async latency () {
    await pump(a.warmup || 0, 1)
    emit({ type: 'mark' })
    await waitCommand('go')
    const samples = []
    let errors = 0
    for (let i = 0; i < a.n; i++) {
      const data = payload + i
      const [err, rep, ms] = await request(data)
      if (err || rep !== data + 'FINAL') errors++
      else samples.push(Math.round(ms * 1000))
    }
    return { sent: a.n, ok: samples.length, errors, samples }
  },
  async failover () {
    for (let i = 0; i < (a.warmup || 0); i++) await request('w')
    emit({ type: 'mark' })
    await waitCommand('go')
    const end = now() + a.duration
    let last = now()
    let maxGap = 0
    let gapAt = 0
    let ok = 0
    let resent = 0
    const servedBy = {}
    let answeredAfterKill = false
    // Past the end only until one reply after the kill has come (30 s at most).
    while (now() < end || (!answeredAfterKill && now() < end + 30000)) {
      const [err, rep] = await request('f', a['retry-timeout'] || 1000)
      const t = now()
      // A timed-out request is sent again by the next loop turn: not lost.
      if (err) { resent++; continue }
      ok++
      servedBy[rep] = (servedBy[rep] || 0) + 1
      // Only gaps that end after the kill ({cmd:'killed', at}) count.
      const killed = lastCommand('killed')
      if (killed && t >= killed.at && t - last > maxGap) { maxGap = t - last; gapAt = t }
      if (killed && t >= killed.at) answeredAfterKill = true
      last = t
    }
    return { ok, errors: 0, resent, maxGapMs: maxGap, gapEndedAt: gapAt, servedBy }
  },
  async flood () {
    await pump(a.warmup || 0, 1)
    emit({ type: 'mark' })
    await waitCommand('go')
    const all = []
    for (let i = 0; i < a.n; i++) all.push(request(payload + i))
    emit({ type: 'sent', n: a.n })
    const replies = await Promise.all(all)
    const errors = replies.filter(([err]) => err).length
    return { sent: a.n, ok: replies.length - errors, errors }
  }
}

connect({ servers: `127.0.0.1:${a.port}` }).then(async (c) => {
  nc = c
  const r = await modes[a.mode]()
  emit({ type: 'result', ...r })
  await nc.close()
  process.exit(0)
})

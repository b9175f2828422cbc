'use strict'
// Role: a pigato-API client (--impl ours|pigato) on --endpoint, using the
// callback API `client.request(svc, data, partialCb, finalCb, opts)`.
// Modes (--mode):
//   throughput  --n N --inflight K: N requests, K outstanding at any time
//   latency     --n N: N requests one at a time, each round trip timed
//   failover    --duration ms: one in flight (retry 1) until the time is up;
//               reports the longest gap between two replies
//   flood       --n N: N requests at once (held by the worker); prints
//               {type:'sent'} then waits for every reply
// Each mode first runs --warmup requests, prints {type:'mark'}, waits for the
// command {cmd:'go'} (the orchestrator reads /proc then), and ends with one
// {type:'result'} line.
const { parseArgs, emit, waitCommand, lastCommand, now, loadMdp, failLoudly } = require('./common')

failLoudly()
const a = parseArgs()
const { Client } = loadMdp(a.impl)
const client = new Client(a.endpoint, { heartbeat: a.heartbeat || 2500 })
client.on('error', (err) => emit({ type: 'warn', error: String(err) }))
client.start()
const service = a.service || 'echo'
const opts = { timeout: a.timeout || 30000 }
const payload = 'x'.repeat(a.size || 16)

/** One request; resolves with [err, data, latency ms]. */
function request (data, extra) {
  const t0 = now()
  return new Promise((resolve) => {
    client.request(service, data, () => {}, (err, rep) => resolve([err, rep, now() - t0]), { ...opts, ...extra })
  })
}

/** n requests, k outstanding; counts good replies (echo checked) and errors. */
async function pump (n, k) {
  let next = 0
  let ok = 0
  let errors = 0
  let wrong = 0
  const errorKinds = {}
  async function lane () {
    while (next < n) {
      const data = payload + (next++)
      const [err, rep] = await request(data)
      if (err) { errors++; errorKinds[err] = (errorKinds[err] || 0) + 1 } else if (rep !== data + 'FINAL') wrong++
      else ok++
    }
  }
  await Promise.all(Array.from({ length: Math.min(k, n) }, lane))
  return { ok, errors, wrong, errorKinds }
}

async function throughput () {
  await pump(a.warmup || 0, a.inflight || 1)
  emit({ type: 'mark' })
  await waitCommand('go')
  const t0 = now()
  const r = await pump(a.n, a.inflight || 1)
  const ms = now() - t0
  return { ...r, sent: a.n, ms, rate: r.ok / (ms / 1000) }
}

async function latency () {
  await pump(a.warmup || 0, 1)
  emit({ type: 'mark' })
  await waitCommand('go')
  const samples = []
  let errors = 0
  for (let i = 0; i < a.n; i++) {
    const data = payload + i
    const [err, rep, ms] = await request(data)
    if (err || rep !== data + 'FINAL') errors++
    else samples.push(Math.round(ms * 1000)) // microseconds
  }
  return { sent: a.n, ok: samples.length, errors, samples }
}

async function failover () {
  // Answers here are the worker's id, not an echo.
  for (let i = 0; i < (a.warmup || 0); i++) await request('w', { retry: 1 })
  emit({ type: 'mark' })
  await waitCommand('go')
  const end = now() + a.duration
  let last = now()
  let maxGap = 0
  let gapAt = 0
  let ok = 0
  let errors = 0
  const servedBy = {}
  let answeredAfterKill = false
  // Past the end only until one reply after the kill has come (30 s at most).
  while (now() < end || (!answeredAfterKill && now() < end + 30000)) {
    const [err, rep] = await request('f', { retry: 1 })
    const t = now()
    if (err) { errors++; continue }
    ok++
    servedBy[rep] = (servedBy[rep] || 0) + 1
    // Only gaps that end after the kill ({cmd:'killed', at}) count.
    const killed = lastCommand('killed')
    if (killed && t >= killed.at && t - last > maxGap) { maxGap = t - last; gapAt = t }
    if (killed && t >= killed.at) answeredAfterKill = true
    last = t
  }
  return { ok, errors, maxGapMs: maxGap, gapEndedAt: gapAt, servedBy }
}

async function flood () {
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

const modes = { throughput, latency, failover, flood }
modes[a.mode]().then((r) => {
  emit({ type: 'result', ...r })
  client.stop()
  setTimeout(() => process.exit(0), 200).unref()
})

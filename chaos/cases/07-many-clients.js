'use strict'
// Case 7: 10,000 concurrent clients (--short: 1,000), each its own Client (its own connection) in a
// few processes, on one broker. Once every client is connected, each sends one request at the same
// moment; the worker holds each for 1 s, so all of them are in flight together. Held when every
// request is answered and the broker's RSS stays under 500 MB. The processes raise `ulimit -n` for
// the connections; the case fails, saying so, when the hard limit does not allow it.
const { SHORT, log, delay, freePort, role, runCase, checks, until, round, needNofile } = require('../lib')

const CLIENTS = SHORT ? 1000 : 10000
const PROCS = SHORT ? 2 : 4
const PER = CLIENTS / PROCS
const HOLD_MS = 1000
const HEARTBEAT = 2500
const RSS_LIMIT = 500

runCase(7, `${CLIENTS.toLocaleString('en-US')} concurrent clients on one broker`, async () => {
  const brokerFiles = needNofile(CLIENTS + 1000)
  const clientFiles = needNofile(PER + 500)
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const broker = role('broker', ['--addr', addr, '--heartbeat', HEARTBEAT], { tag: 'broker', nofile: brokerFiles })
  await broker.wait((m) => m.event === 'started', 5000, 'started')
  const idle = broker.rss()
  const worker = role('worker', ['--addr', addr, '--delay', HOLD_MS, '--heartbeat', HEARTBEAT], { tag: 'worker' })
  await worker.wait((m) => m.event === 'connect', 5000, 'worker connect')
  const t0 = Date.now()
  const procs = Array.from({ length: PROCS }, (_, i) => role('client', ['--addr', addr, '--clients', PER, '--inflight', 1, '--once', '--wait', '--timeout', 60000, '--heartbeat', HEARTBEAT, '--gap', 20], { tag: `clients${i}`, nofile: clientFiles }))
  const connected = await until(async () => {
    const s = await Promise.all(procs.map((p) => p.ask('stats', {}, 20000)))
    return s.every((x) => x.connected === PER) && s
  }, SHORT ? 30000 : 120000, 500)
  if (!connected) {
    const s = await Promise.all(procs.map((p) => p.ask('stats', {}, 20000)))
    throw new Error(`only ${s.map((x) => x.connected).join('+')} of ${CLIENTS} clients connected`)
  }
  const connectMs = Date.now() - t0
  const connectedRss = broker.rss()
  log(`${CLIENTS} clients connected in ${connectMs} ms; broker RSS ${round(connectedRss)} MB`)
  let peak = connectedRss
  let peakInFlight = 0
  const sampler = setInterval(() => { peak = Math.max(peak, broker.rss()) }, 100)
  const goAt = Date.now()
  await Promise.all(procs.map((p) => p.ask('go')))
  let ends
  try {
    let done = false
    const inflight = until(async () => {
      const s = (await broker.ask('stats')).stats
      peakInFlight = Math.max(peakInFlight, s.inFlight)
      return done
    }, 70000, 100)
    ends = await Promise.all(procs.map((p) => p.ask('stop', { ms: 60000 }, 70000)))
    done = true
    await inflight
  } finally {
    clearInterval(sampler)
  }
  const allMs = Date.now() - goAt
  const answered = ends.reduce((n, e) => n + e.ok.plain + e.ok.retry, 0)
  const failed = {}
  for (const e of ends) for (const [k, v] of Object.entries(e.failed.plain)) failed[k] = (failed[k] || 0) + v
  const clientRss = ends.map((e) => round(e.rss))
  const c = checks()
  c.check(answered === CLIENTS, `${answered} of ${CLIENTS} answered (failed: ${JSON.stringify(failed)})`)
  c.check(peak < RSS_LIMIT, `broker RSS peaked at ${round(peak)} MB (limit ${RSS_LIMIT})`)
  c.check(ends.every((e) => e.misrouted === 0 && e.duplicates === 0 && e.hung === 0), 'misrouted, duplicate or hung replies')
  return {
    held: c.held(),
    figures: {
      clients: CLIENTS,
      processes: PROCS,
      connectMs,
      answered,
      failed,
      peakInFlight,
      allAnsweredMs: allMs,
      brokerRssIdleMb: round(idle),
      brokerRssConnectedMb: round(connectedRss),
      brokerRssPeakMb: round(peak),
      clientProcessRssMb: clientRss.join(' / ')
    },
    note: c.held() ? `one request per client, all sent at once, each held ${HOLD_MS} ms by the worker; ulimit -n ${brokerFiles} for the broker` : c.why()
  }
}, { limitMs: (SHORT ? 60 : 300) * 1000 })

'use strict'
// Case 9 (issue 19's long run). Part A: a worker that ignores every odd request, clients with a
// 300 ms timeout and 1,000 in flight, for a minute (--short: 16 s): the broker lets the abandoned
// requests go and the worker forgets them, so the RSS of both stays flat within 20 MB after warm-up
// (--short: what they hold stays bounded, RSS within 40 MB); and the worker's malloc heap (its native
// memory, without the V8 heap) stays flat within a few MB, which shows native growth in seconds.
// Part B: the hostile-peer attacks of __test__/hostile-broker.test.js at scale against a broker that
// also serves a real worker and client: every malformed greeting/frame kind repeated, 3,000 seeded
// random-byte connections, 10,000 connections that never greet (--short: 300 and 1,000). After each:
// the broker answers a real request within a second; at the end its descriptors and RSS came back.
const { SHORT, log, delay, freePort, role, runCase, checks, until, slope, round, needNofile } = require('../lib')

const LOAD_MS = SHORT ? 16000 : 60000
const WARM_MS = SHORT ? 4000 : 15000
const SAMPLE_MS = SHORT ? 250 : 1000
const INFLIGHT = 1000
const RANDOM = SHORT ? 300 : 3000
const SEEDS = SHORT ? 3 : 10
const SILENT = SHORT ? 1000 : 10000
const REPEAT = SHORT ? 3 : 25
// Full: flat within 20 MB after warm-up (the bound). Ten seconds cannot show that (a fresh
// worker's RSS still settles for ~15 s even when every request is answered), so the short run bounds
// what used to grow (what broker and worker still hold: issue 19 saw 50,000 abandoned requests in
// the broker) and allows 40 MB.
const FLAT_MB = SHORT ? 40 : 20
// The worker's malloc heap (chaos/lib.js mallocHeapMb) after warm-up. It grew 5 -> 13 MB in the short
// run and 16 -> 36 MB in the full one while each delivered batch pinned its buffer's capacity until V8
// collected it (src/binding/events.rs buffer_copy); since then it moves about 1 MB.
const MALLOC_FLAT_MB = SHORT ? 4 : 8
const HELD_LIMIT = 6000

async function silentWorker (c, figures) {
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const broker = role('broker', ['--addr', addr, '--heartbeat', 200], { tag: 'broker' })
  await broker.wait((m) => m.event === 'started', 5000, 'started')
  const worker = role('worker', ['--addr', addr, '--mode', 'ignore-half', '--heartbeat', 200], { tag: 'worker', nodeArgs: ['--expose-gc'] })
  await worker.wait((m) => m.event === 'connect', 5000, 'worker connect')
  const client = role('client', ['--addr', addr, '--inflight', INFLIGHT, '--retry', 0, '--timeout', 300, '--heartbeat', 200], { tag: 'client' })
  await client.wait((m) => m.event === 'connect', 5000, 'client connect')
  log(`part A: ignore-half worker, ${INFLIGHT} in flight, timeout 300 ms, ${LOAD_MS / 1000} s`)
  const t0 = Date.now()
  const samples = []
  let warm = null
  while (Date.now() - t0 < LOAD_MS) {
    await delay(SAMPLE_MS)
    samples.push({ t: (Date.now() - t0) / 60000, broker: broker.rss(), worker: worker.rss(), workerMalloc: worker.mallocHeap() })
    // The worker's live JS heap (after a full GC) at the end of the warm-up and at the end tells a
    // leak of JS objects from V8 and the allocator keeping pages.
    if (!warm && Date.now() - t0 >= WARM_MS) warm = await worker.ask('stats', { gc: true })
  }
  const bstats = (await broker.ask('stats')).stats
  const wstats = await worker.ask('stats', { gc: true })
  const end = await client.ask('stop', { ms: 3000 }, 6000)
  const after = samples.filter((s) => s.t * 60000 >= WARM_MS)
  const spread = (k) => Math.max(...after.map((s) => s[k])) - Math.min(...after.map((s) => s[k]))
  const fit = (k) => slope(after.map((s) => s.t), after.map((s) => s[k]))
  const timedOut = (end.failed.plain.C_TIMEOUT || 0)
  Object.assign(figures, {
    requests: end.sent,
    answered: end.ok.plain,
    timedOut,
    abandonedByBroker: bstats.abandoned,
    brokerInFlightAtEnd: bstats.inFlight,
    workerHeldAtEnd: wstats.reqs,
    workerHeapAfterGcMb: `${round(warm.heapMb)} -> ${round(wstats.heapMb)}`,
    workerV8HeapTotalMb: `${warm.mem.heapTotal} -> ${wstats.mem.heapTotal}`,
    brokerRssMb: `${round(Math.min(...after.map((s) => s.broker)))}-${round(Math.max(...after.map((s) => s.broker)))}`,
    workerRssMb: `${round(Math.min(...after.map((s) => s.worker)))}-${round(Math.max(...after.map((s) => s.worker)))}`,
    brokerSlopeMbMin: round(fit('broker'), 2),
    workerSlopeMbMin: round(fit('worker'), 2),
    workerMallocHeapMb: `${round(Math.min(...after.map((s) => s.workerMalloc)))}-${round(Math.max(...after.map((s) => s.workerMalloc)))}`
  })
  log(`part A: ${JSON.stringify(figures)}`)
  c.check(end.ok.plain > 0 && timedOut > 0, 'the load did not run (no answers or no timeouts)')
  c.check(spread('broker') <= FLAT_MB, `broker RSS moved ${round(spread('broker'))} MB after warm-up (limit ${FLAT_MB})`)
  c.check(spread('worker') <= FLAT_MB, `worker RSS moved ${round(spread('worker'))} MB after warm-up (limit ${FLAT_MB})`)
  const mallocKnown = after.every((s) => s.workerMalloc !== null)
  c.check(mallocKnown, 'the worker\'s malloc heap could not be read (/proc/<pid>/smaps has no [heap])')
  if (mallocKnown) c.check(spread('workerMalloc') <= MALLOC_FLAT_MB, `worker malloc heap moved ${round(spread('workerMalloc'))} MB after warm-up (limit ${MALLOC_FLAT_MB})`)
  c.check(bstats.abandoned > 0, 'the broker let no abandoned request go')
  c.check(bstats.inFlight <= HELD_LIMIT && wstats.reqs <= HELD_LIMIT, `still held at the end: ${bstats.inFlight} in the broker, ${wstats.reqs} in the worker (limit ${HELD_LIMIT})`)
  c.check(end.hung === 0, `${end.hung} requests hung`)
  await Promise.all([client.kill(), worker.kill(), broker.kill()])
}

async function hostile (c, figures) {
  const nofile = needNofile(SILENT + 2000)
  const port = await freePort()
  const target = role('target', ['--addr', `tcp://127.0.0.1:${port}`], { tag: 'target', nofile })
  await target.wait((m) => m.event === 'started', 5000, 'started')
  const attacker = role('attacker', ['--port', port], { tag: 'attacker', nofile })
  let probes = 0
  let slowest = 0
  const probe = async (when) => {
    const p = await target.ask('probe', {}, 5000)
    probes++
    slowest = Math.max(slowest, p.ms)
    c.check(p.ok && p.ms < 1000, `probe ${when}: ${JSON.stringify(p)}`)
  }
  await probe('at start')
  await delay(500)
  const start = await target.ask('stats')
  let peakRss = start.rss
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, target.rss()) }, 200)
  try {
    log(`part B: every malformed kind x${REPEAT}`)
    const k = await attacker.ask('kinds', { repeat: REPEAT }, 120000)
    await probe('after the malformed kinds')
    log(`part B: ${RANDOM} seeded random connections over ${SEEDS} seeds`)
    let closedRandom = 0
    for (let s = 0; s < SEEDS; s++) {
      const r = await attacker.ask('random', { seed: 20261207 + s, count: Math.round(RANDOM / SEEDS), par: 50 }, 300000)
      closedRandom += r.closedByServer
      await probe(`after random seed ${20261207 + s}`)
    }
    log(`part B: ${SILENT} silent connections`)
    const sil = await attacker.ask('silent', { count: SILENT }, 120000)
    await probe(`with ${sil.open} silent connections open`)
    const during = await target.ask('stats')
    const rel = await attacker.ask('release', {}, 30000)
    const settled = await until(async () => { const s = await target.ask('stats'); return s.stats.connections.handshaking === 0 && s.stats.connections.active <= 2 && s }, 10000, 200)
    await probe('after the silent connections closed')
    await delay(1000)
    const endStats = await target.ask('stats')
    const conn = endStats.stats.connections
    Object.assign(figures, {
      malformedConnections: k.sent,
      randomConnections: RANDOM,
      seeds: SEEDS,
      silentConnections: sil.open,
      silentEvictedByBroker: rel.closedByServer,
      refusedTotal: conn.refusedTotal,
      refusedByReason: conn.refused,
      probes,
      slowestProbeMs: slowest,
      targetRssMb: `${round(start.rss)} -> peak ${round(peakRss)} -> ${round(endStats.rss)}`,
      targetFds: `${start.fds} -> ${during.fds} -> ${endStats.fds}`
    })
    log(`part B: ${JSON.stringify(figures)}`)
    c.check(target.alive(), 'the target process died')
    c.check(!!settled, `connections did not settle: ${JSON.stringify(conn)}`)
    c.check(endStats.fds <= start.fds + 2, `descriptors ${start.fds} at start, ${endStats.fds} at the end`)
    c.check(endStats.rss <= start.rss + 40, `RSS ${round(start.rss)} MB at start, ${round(endStats.rss)} MB at the end (margin 40)`)
    c.check(sil.open + sil.failed === SILENT && sil.failed === 0, `${sil.failed} silent connections failed to open`)
  } finally {
    clearInterval(sampler)
  }
  await attacker.kill()
  await target.kill()
}

runCase(9, 'a worker ignoring half its requests; hostile peers at scale', async () => {
  const c = checks()
  const figures = {}
  // --part a / --part b runs one half (for development); the suite runs both.
  const part = process.argv.includes('--part') ? process.argv[process.argv.indexOf('--part') + 1] : 'ab'
  if (part.includes('a')) await silentWorker(c, figures)
  if (part.includes('b')) await hostile(c, figures)
  return { held: c.held(), figures, note: c.held() ? `RSS flat = max-min after ${WARM_MS / 1000} s warm-up within ${FLAT_MB} MB; probes are real requests answered within 1 s` : c.why() }
}, { limitMs: (SHORT ? 60 : 600) * 1000 })

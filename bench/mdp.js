'use strict'
// `npm run bench:mdp`: our pigato-compatible engine against pigato (npm, on libzmq through the
// zmq shim), same shapes, same driver scripts, same run. Broker, workers and clients are
// separate processes on tcp loopback; the worker answers `inp + 'FINAL'` to payload 'r<i>'.
// Prints a table with both figures and the ratio, then one JSON line with everything.
// Flags: --quick (small counts), --only <scenario name fragment>.
const os = require('node:os')
const path = require('node:path')
const { spawnNode, freePort } = require('../__test__/helpers')
const { parseArgs } = require('./peers/common')

const args = parseArgs(undefined, { quick: false, only: '' })
const Q = args.quick ? 0.1 : 1
const peer = (f) => path.join(__dirname, 'peers', f)

const SCENARIOS = [
  { name: '1 worker + 1 client, 1,000 in flight', workers: 1, clients: 1, mode: 'throughput', n: 100000, inflight: 1000, metric: 'req_per_s', unit: 'req/s', better: 'higher' },
  { name: '2 workers + 2 clients, 1,000 in flight each', workers: 2, clients: 2, mode: 'throughput', n: 50000, inflight: 1000, metric: 'req_per_s', unit: 'req/s total', better: 'higher' },
  { name: 'one request in flight, p50', workers: 1, clients: 1, mode: 'latency', n: 5000, metric: 'p50_us', unit: 'µs', better: 'lower' },
  { name: 'one request in flight, p99', same: 'latency', metric: 'p99_us', unit: 'µs', better: 'lower' },
  { name: 'client RSS with 100,000 in flight', workers: 1, clients: 1, mode: 'rss', n: 100000, metric: 'rss_in_flight_mb', unit: 'MB', better: 'lower' }
]

async function runShape (impl, s) {
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const intch = `tcp://127.0.0.1:${await freePort()}`
  const procs = []
  const n = Math.max(100, Math.round(s.n * (impl === 'pigato' && s.mode === 'throughput' ? Q * 0.2 : Q)))
  try {
    const broker = spawnNode(peer('pigato-broker.js'), ['--impl', impl, '--addr', addr, '--intch', intch])
    procs.push(broker)
    await broker.waitJson((m) => m.event === 'ready', 10000)
    for (let i = 0; i < s.workers; i++) {
      const w = spawnNode(peer('pigato-worker.js'), ['--impl', impl, '--addr', addr, '--concurrency', -1])
      procs.push(w)
      await w.waitJson((m) => m.event === 'ready', 10000)
    }
    const clients = []
    for (let i = 0; i < s.clients; i++) {
      const c = spawnNode(peer('pigato-client.js'), ['--impl', impl, '--addr', addr, '--mode', s.mode, '--n', n,
        '--inflight', s.inflight || 1, '--warmup', Math.min(2000, n)],
      { env: s.mode === 'rss' ? { NODE_OPTIONS: '--expose-gc' } : {} })
      procs.push(c)
      clients.push(c)
    }
    const results = await Promise.all(clients.map((c) => c.waitJson((m) => m.event === 'result' || m.event === 'error', 280000)))
    const failed = results.find((r) => r.event === 'error' || r.bad > 0)
    if (failed) return { failed: failed.error || `${failed.bad} wrong or failed replies` }
    if (s.mode === 'throughput') {
      // Total rate: all requests over the slowest client's time.
      const total = results.reduce((a, r) => a + r.n, 0)
      const ms = Math.max(...results.map((r) => r.elapsed_ms))
      return { req_per_s: Math.round(total * 1000 / ms), n: total }
    }
    return results[0]
  } finally {
    for (const p of procs.reverse()) await p.kill('SIGTERM', 2000)
  }
}

function fmt (v) {
  return typeof v === 'number' ? v.toLocaleString('en-US') : String(v)
}

async function main () {
  console.log(`bench:mdp on ${os.cpus().length} cores, node ${process.version}${args.quick ? ' (quick)' : ''}`)
  const rows = []
  let cache = {}
  for (const s of SCENARIOS) {
    if (args.only && !s.name.includes(args.only)) continue
    const shape = s.same ? SCENARIOS.find((x) => x.mode === s.same) : s
    const row = { scenario: s.name, unit: s.unit }
    for (const impl of ['zmqbus', 'pigato']) {
      const key = impl + shape.name
      if (!cache[key]) cache[key] = await runShape(impl, shape).catch((e) => ({ failed: String(e.message || e) }))
      const r = cache[key]
      row[impl] = r.failed ? `failed: ${r.failed}` : r[s.metric]
    }
    const a = row.zmqbus
    const b = row.pigato
    row.ratio = typeof a === 'number' && typeof b === 'number'
      ? Number((s.better === 'higher' ? a / b : b / a).toFixed(2))
      : 'n/a'
    rows.push(row)
    console.log(`${s.name.padEnd(46)} ours ${fmt(a).padStart(10)} ${s.unit.padEnd(12)} pigato ${fmt(b).padStart(10)}   ours is ${row.ratio}x ${s.better === 'higher' ? 'faster' : 'better'}`)
  }
  cache = null
  console.log(JSON.stringify({ bench: 'mdp', cores: os.cpus().length, node: process.version, quick: !!args.quick, rows }))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

'use strict'
// Bench client process; prints one JSON line of results.
// Usage: node bench/peers/pigato-client.js --impl pigato|zmqbus --addr tcp://127.0.0.1:55555 --mode M [...]
//   --mode throughput --n 20000 --inflight 100   N requests, K in flight: req/s
//   --mode latency    --n 5000                   one in flight: p50/p99 round trip (us)
//   --mode rss        --n 100000                 N in flight at once: client RSS (MB)
//   common: --service echo --warmup 500 --timeout 120000 (request opts.timeout)
const { parseArgs, loadImpl, printJson, watchdog, percentile } = require('./common')

const args = parseArgs(undefined, {
  impl: 'pigato', addr: 'tcp://127.0.0.1:55555', mode: 'throughput', service: 'echo',
  n: 20000, inflight: 100, warmup: 500, timeout: 120000, max_ms: 300000,
})
watchdog(args.max_ms)
const { Client } = loadImpl(args.impl)
const client = new Client(args.addr, { timeout: args.timeout })
client.on('error', (err) => printJson({ event: 'error', error: String(err) }))

let bad = 0

/** One request; resolves when its final reply arrives (errors are counted). */
function call(i) {
  const inp = `r${i}`
  return new Promise((resolve) => {
    client.request(args.service, inp, undefined, (err, data) => {
      if (err || data !== inp + 'FINAL') bad += 1
      resolve()
    }, { timeout: args.timeout })
  })
}

async function runWindow(n, inflight) {
  let next = 0
  const lane = async () => {
    while (next < n) await call(next++)
  }
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, lane))
}

async function throughput() {
  await runWindow(args.warmup, args.inflight)
  const t0 = process.hrtime.bigint()
  await runWindow(args.n, args.inflight)
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  return { n: args.n, inflight: args.inflight, elapsed_ms: round(ms), req_per_s: Math.round((args.n * 1000) / ms) }
}

async function latency() {
  await runWindow(args.warmup, 1)
  const us = new Float64Array(args.n)
  for (let i = 0; i < args.n; i++) {
    const t0 = process.hrtime.bigint()
    await call(i)
    us[i] = Number(process.hrtime.bigint() - t0) / 1e3
  }
  const sorted = Array.from(us).sort((a, b) => a - b)
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  return {
    n: args.n, inflight: 1, p50_us: round(percentile(sorted, 50)), p90_us: round(percentile(sorted, 90)),
    p99_us: round(percentile(sorted, 99)), max_us: round(sorted[sorted.length - 1]), mean_us: round(mean),
  }
}

async function rss() {
  await runWindow(args.warmup, 10)
  if (global.gc) global.gc()
  const mb = (x) => round(x / 1048576)
  const before = process.memoryUsage()
  let peak = before.rss
  const t0 = process.hrtime.bigint()
  // Issue every request in one synchronous loop: none can complete before
  // the loop ends, so all n are in flight at the measurement below.
  const all = []
  for (let i = 0; i < args.n; i++) all.push(call(i))
  const sent = process.memoryUsage()
  peak = Math.max(peak, sent.rss)
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  await Promise.all(all)
  clearInterval(sampler)
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  return {
    n: args.n, inflight: args.n, rss_before_mb: mb(before.rss), rss_in_flight_mb: mb(sent.rss),
    rss_peak_mb: mb(peak), heap_in_flight_mb: mb(sent.heapUsed), rss_per_request_bytes: Math.round((sent.rss - before.rss) / args.n),
    elapsed_ms: round(ms), req_per_s: Math.round((args.n * 1000) / ms),
  }
}

function round(x) {
  return Math.round(x * 10) / 10
}

const MODES = { throughput, latency, rss }

async function main() {
  const mode = MODES[args.mode]
  if (!mode) throw new Error(`--mode must be one of ${Object.keys(MODES).join(', ')}`)
  const connected = new Promise((resolve) => client.once('connect', resolve))
  client.start()
  await connected
  const result = await mode()
  printJson({ event: 'result', role: 'client', impl: args.impl, mode: args.mode, bad, ...result })
  client.start = () => {} // pigato may restart from a pending reconnect timer
  client.stop()
  setTimeout(() => process.exit(0), 50).unref()
}

main().catch((err) => {
  printJson({ event: 'error', error: String(err && err.stack) })
  process.exit(1)
})

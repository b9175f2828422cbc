'use strict'
// `node bench/worker-cpu.js [--n 300000] [--warm 20000] [--runs 3]`: the worker's CPU time per
// 100,000 requests. Broker, worker and client are separate processes on tcp loopback (the fault
// suite's roles); the client keeps 1,000 requests in flight and the worker answers each with
// reply.end(). The worker reads process.cpuUsage() after --warm requests and again after --n more.
// A noisy figure on a shared machine: compare runs made back to back, and look at the spread.
const path = require('node:path')
const { role, freePort, round } = require('../chaos/lib')

const argv = process.argv.slice(2)
const opt = (k, d) => (argv.includes(`--${k}`) ? Number(argv[argv.indexOf(`--${k}`) + 1]) : d)
const N = opt('n', 300000)
const WARM = opt('warm', 20000)
const RUNS = opt('runs', 3)

async function once () {
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const broker = role('broker', ['--addr', addr, '--heartbeat', 1000], { tag: 'broker' })
  const worker = role('../../bench/roles/cpu-worker', ['--addr', addr, '--warm', WARM, '--n', N], { tag: 'worker' })
  try {
    await broker.wait((m) => m.event === 'started', 5000, 'started')
    await worker.wait((m) => m.event === 'connect', 5000, 'worker connect')
    const client = role('client', ['--addr', addr, '--inflight', 1000, '--retry', 0, '--timeout', 60000, '--heartbeat', 1000], { tag: 'client' })
    try {
      const done = await worker.wait((m) => m.event === 'done', 300000, 'done')
      return done
    } finally { await client.kill() }
  } finally {
    await Promise.all([worker.kill(), broker.kill()])
  }
}

;(async () => {
  const rows = []
  for (let i = 0; i < RUNS; i++) {
    const d = await once()
    rows.push(d)
    console.log(`run ${i + 1}: worker CPU ${round(d.cpuMsPer100k)} ms per 100k requests (user ${round(d.userMsPer100k)}, system ${round(d.systemMsPer100k)}), ${Math.round(d.reqPerS)} req/s`)
  }
  const cpu = rows.map((r) => r.cpuMsPer100k).sort((a, b) => a - b)
  console.log(JSON.stringify({ bench: path.basename(__filename), n: N, runs: RUNS, cpuMsPer100k: cpu.map((x) => round(x)), median: round(cpu[Math.floor(cpu.length / 2)]) }))
  process.exit(0)
})()

'use strict'
// Runs one pigato-API bench: a broker, worker(s) and a client, each in its
// own process, and prints the client's result as one JSON line.
// Usage: node bench/peers/run-pigato.js --impl pigato|zmqbus --mode throughput|latency|rss
//          [--n N] [--inflight K] [--workers 1] [--concurrency 100] [--port P]
// Every other --key value is passed to the client (see pigato-client.js).
const path = require('node:path')
const { spawnNode, freePort } = require('../../__test__/helpers')
const { parseArgs, printJson } = require('./common')

const here = (f) => path.join(__dirname, f)

async function main() {
  const args = parseArgs(undefined, { impl: 'pigato', mode: 'throughput', workers: 1, concurrency: 100, max_ms: 300000 })
  const addr = `tcp://127.0.0.1:${args.port || (await freePort())}`
  const intch = `tcp://127.0.0.1:${await freePort()}`
  const procs = []
  try {
    const broker = spawnNode(here('pigato-broker.js'), ['--impl', args.impl, '--addr', addr, '--intch', intch, '--max_ms', args.max_ms])
    procs.push(broker)
    await broker.waitJson((m) => m.event === 'ready', 10000)
    for (let i = 0; i < args.workers; i++) {
      const w = spawnNode(here('pigato-worker.js'), ['--impl', args.impl, '--addr', addr, '--concurrency', args.concurrency, '--max_ms', args.max_ms])
      procs.push(w)
      await w.waitJson((m) => m.event === 'ready', 10000)
    }
    const clientArgs = Object.entries(args)
      .filter(([k]) => !['workers', 'concurrency', 'port'].includes(k))
      .flatMap(([k, v]) => [`--${k}`, String(v)])
    const client = spawnNode(here('pigato-client.js'), [...clientArgs, '--addr', addr],
      { env: args.mode === 'rss' ? { NODE_OPTIONS: '--expose-gc' } : {} })
    procs.push(client)
    const result = await client.waitJson((m) => m.event === 'result' || m.event === 'error', args.max_ms)
    printJson({ ...result, workers: args.workers, concurrency: args.concurrency, node: process.version })
    if (result.event === 'error') process.exitCode = 1
  } finally {
    // Workers and client first, the broker last.
    for (const p of procs.reverse()) await p.kill('SIGTERM', 2000)
  }
}

main().catch((err) => {
  printJson({ event: 'error', error: String(err && err.stack) })
  process.exitCode = 1
})

'use strict'
// This VM's latency floor, measured in the same run as everything else: a blocking Rust echo
// pair between two processes (bench/floor, no dependencies). Latency rows divide by it, since
// most of a one-in-flight round trip here is the hypervisor waking an idle vCPU, and that moves
// with the machine's load (see shared/boundary.md).
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const readline = require('node:readline')
const { freePort } = require('./proc')
const { percentile, cdfPoints } = require('./stats')

const DIR = path.join(__dirname, '..', 'floor')
const BIN = path.join(DIR, 'target', 'release', 'floor')

let built = false
function build () {
  if (built) return
  execFileSync('cargo', ['build', '--release', '--quiet', '--manifest-path', path.join(DIR, 'Cargo.toml')], { stdio: 'inherit' })
  built = true
}

/** Starts `floor <args>` and resolves with its first JSON line of `event`. */
function run (args, event, ms) {
  const child = spawn(BIN, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`floor ${args[0]}: no ${event} within ${ms} ms`)), ms)
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        const m = JSON.parse(l)
        if (m.event === event) { clearTimeout(timer); resolve(m) }
      } catch (e) { /* not ours */ }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`floor ${args[0]} exited with ${code}`)) })
  })
  return { child, line }
}

/** One-in-flight round trips of 3-byte messages: p50 as the value, like rr.latency. */
async function latency ({ n, warmup }) {
  build()
  const port = await freePort()
  const server = run(['server', port], 'ready', 10000)
  try {
    await server.line
    const client = run(['client', port, n, warmup], 'result', 120000)
    const r = await client.line
    const xs = r.samples.sort((x, y) => x - y)
    return {
      value: percentile(xs, 50),
      unit: 'µs p50',
      extra: { p50: percentile(xs, 50), p99: percentile(xs, 99), p999: percentile(xs, 99.9), max: xs[xs.length - 1], samples: xs.length, lost: 0, errors: 0, cdf: cdfPoints(xs) }
    }
  } finally {
    server.child.kill('SIGKILL')
  }
}

module.exports = { latency }

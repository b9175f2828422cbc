'use strict'
// `node bench/busmq-latency.js`: push-to-message latency with one message in flight (the probe of
// `npm run bench:busmq`: a producer bus and a consumer bus in one process, one queue, one local
// redis-server), for ours on the JS thread (the default), ours on the runtime thread
// (`ZMQBUS_THREAD=runtime`, the earlier model) and busmq 3.1, interleaved round by round so that
// every figure sees the same machine. Prints each round and the medians of p50 and p99.
// `floor` is plain Node `net` on the same Redis (bench/peers/redis-floor.js): an RPUSH on one
// connection to the answer of a BLMPOP waiting on another, what any design pays at least.
// `pop` and `push` are ours with only one side of the fast lane (ZMQBUS_BUSMQ_LANE), to see
// what each side buys. `floor-script` pushes with our push script instead of RPUSH, and
// `floor-sub` also has a subscriber on the queue's channel (as our consumers are).
// Flags: --rounds <r> (3), --n <messages per probe> (3000), --only a,b
// (floor,ours,pop,push,runtime,busmq).
const path = require('node:path')
const { spawnNode } = require('../__test__/helpers')
const { startRedis } = require('../__test__/busmq-helpers')
const { parseArgs } = require('./peers/common')

const args = parseArgs(undefined, { rounds: 3, n: 3000, only: '' })
const PEER = path.join(__dirname, 'peers', 'busmq-peer.js')
const FLOOR = path.join(__dirname, 'peers', 'redis-floor.js')
const VARIANTS = {
  floor: { impl: 'floor', env: {}, flags: [] },
  'floor-script': { impl: 'floor', env: {}, flags: ['--script'] },
  'floor-sub': { impl: 'floor', env: {}, flags: ['--script', '--subscribe'] },
  ours: { impl: 'ours', env: { ZMQBUS_THREAD: '' } },
  pop: { impl: 'ours', env: { ZMQBUS_THREAD: '', ZMQBUS_BUSMQ_LANE: 'pop' } },
  push: { impl: 'ours', env: { ZMQBUS_THREAD: '', ZMQBUS_BUSMQ_LANE: 'push' } },
  runtime: { impl: 'ours', env: { ZMQBUS_THREAD: 'runtime' } },
  busmq: { impl: 'busmq', env: {} }
}
const names = args.only ? String(args.only).split(',') : ['floor', 'ours', 'runtime', 'busmq']

async function probe (redis, name) {
  const v = VARIANTS[name]
  const proc = v.impl === 'floor'
    ? spawnNode(FLOOR, ['--url', redis.url, '--n', args.n, ...v.flags])
    : spawnNode(PEER, ['--impl', v.impl, '--url', redis.url, '--queue', `lat-${name}-${Date.now()}`,
      '--role', 'latency', '--n', args.n], { env: v.env })
  try {
    const r = await proc.waitJson((m) => m.event === 'result' || m.event === 'error', 120000)
    if (r.event === 'error') throw new Error(`${name}: ${r.error}`)
    return r
  } finally {
    await proc.kill('SIGTERM', 3000)
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main () {
  const redis = await startRedis()
  const got = Object.fromEntries(names.map((n) => [n, []]))
  try {
    for (let round = 0; round < args.rounds; round++) {
      for (const name of names) {
        const r = await probe(redis, name)
        got[name].push(r)
        process.stderr.write(`round ${round + 1} ${name}: p50 ${r.p50_us} µs, p99 ${r.p99_us} µs\n`)
      }
    }
  } finally {
    await redis.stop()
  }
  const load = require('node:os').loadavg().map((l) => l.toFixed(2)).join(' ')
  const out = { rounds: args.rounds, n: args.n, loadavg: load }
  for (const name of names) {
    out[name] = { p50_us: median(got[name].map((r) => r.p50_us)), p99_us: median(got[name].map((r) => r.p99_us)) }
  }
  console.log(JSON.stringify(out))
}

main().catch((err) => { console.error(err); process.exit(1) })

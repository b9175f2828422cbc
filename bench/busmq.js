'use strict'
// `npm run bench:busmq`: one queue on one redis-server (started here, on a free 127.0.0.1 port),
// ours (zmqbus/busmq) against busmq 3.1 and BullMQ (npm). Throughput: one producer process
// pushes N small messages (`window` callbacks in flight; BullMQ: addBulk of `window` jobs),
// one consumer process takes them; msgs/s = N over the time from the first push to the last
// message, lost = N minus the distinct messages received. Latency: one message in flight,
// push-to-message time (producer and consumer buses in one process). RSS: peak of each process.
// Parallel queues (bench/busmq-roles.js): Q queues, one producer bus (BullMQ: Queue) per queue
// in one process and one consumer bus (BullMQ: Worker) per queue in another, N messages in all;
// msgs/s = N over first push to last message. Channel round trip: two channel ends on two buses
// in one process, the far end echoes, one message in flight (BullMQ has no channels).
// Flags: --quick (N / 10), --n <count>, --only ours|busmq|bullmq (comma list), --window <n>
// (producer callbacks in flight, BullMQ jobs per addBulk; 1000), --latency <count>, --size <bytes>,
// --queues <Q> (10).
const path = require('node:path')
const { spawnNode } = require('../__test__/helpers')
const { startRedis, redisCli } = require('../__test__/busmq-helpers')
const { parseArgs } = require('./peers/common')

const args = parseArgs(undefined, { quick: false, n: 0, only: '', latency: 0, size: 16, window: 1000, queues: 10 })
const N = args.n || (args.quick ? 10000 : 100000)
const LAT_N = args.latency || (args.quick ? 500 : 5000)
const IMPLS = (args.only ? String(args.only).split(',') : ['ours', 'busmq', 'bullmq'])
const PEER = path.join(__dirname, 'peers', 'busmq-peer.js')
const ROLES = path.join(__dirname, 'busmq-roles.js')

async function throughput (redis, impl) {
  const queue = `bench-${impl}-${Date.now()}`
  const common = ['--impl', impl, '--url', redis.url, '--queue', queue, '--n', N, '--size', args.size, '--window', args.window]
  return producerConsumer(redis, PEER, common, ['consumer', 'producer'])
}

/** `--queues` queues in parallel: a process of producers and a process of consumers. */
function parallel (redis, impl) {
  const common = ['--impl', impl, '--url', redis.url, '--prefix', `par-${impl}-${Date.now()}`, '--queues', args.queues,
    '--n', N, '--size', args.size, '--window', args.window]
  return producerConsumer(redis, ROLES, common, ['consumers', 'producers'])
}

/** Starts the consumer process, then the producer process; msgs/s from first push to last message. */
async function producerConsumer (redis, script, common, [consumerRole, producerRole]) {
  const procs = []
  try {
    const consumer = spawnNode(script, [...common, '--role', consumerRole])
    procs.push(consumer)
    const cr = await consumer.waitJson((m) => m.event === 'ready' || m.event === 'error', 30000)
    if (cr.event === 'error') return { failed: cr.error }
    const producer = spawnNode(script, [...common, '--role', producerRole])
    procs.push(producer)
    const pr = await producer.waitJson((m) => m.event === 'ready' || m.event === 'error', 30000)
    if (pr.event === 'error') return { failed: pr.error }
    const cpu0 = await redisCpu(redis)
    producer.child.stdin.write('go\n')
    const p = await producer.waitJson((m) => m.event === 'result' || m.event === 'error', 280000)
    if (p.event === 'error') return { failed: p.error }
    consumer.child.stdin.write('producer-done\n')
    const c = await consumer.waitJson((m) => m.event === 'result' || m.event === 'error', 280000)
    if (c.event === 'error') return { failed: c.error }
    const cpu = (await redisCpu(redis)) - cpu0
    const secs = (c.done - p.start) / 1000
    return {
      msgs_per_s: Math.round(c.received / secs),
      lost: c.lost,
      producer_rss_mb: p.rss_mb,
      consumer_rss_mb: c.rss_mb,
      redis_cpu_s_per_million: Math.round((cpu / N) * 1e6 * 10) / 10
    }
  } finally {
    for (const proc of procs.reverse()) await proc.kill('SIGTERM', 3000)
  }
}

async function latency (redis, impl) {
  const proc = spawnNode(PEER, ['--impl', impl, '--url', redis.url, '--queue', `lat-${impl}-${Date.now()}`, '--role', 'latency', '--n', LAT_N])
  try {
    const r = await proc.waitJson((m) => m.event === 'result' || m.event === 'error', 120000)
    return r.event === 'error' ? { failed: r.error } : r
  } finally {
    await proc.kill('SIGTERM', 3000)
  }
}

/** Channel round trip, one message in flight (ours and busmq; BullMQ has no channels). */
async function channelRtt (redis, impl) {
  if (impl === 'bullmq') return { p50_us: 'n/a', p99_us: 'n/a' }
  const proc = spawnNode(ROLES, ['--impl', impl, '--url', redis.url, '--prefix', `rtt-${impl}-${Date.now()}`, '--role', 'channel', '--n', LAT_N])
  try {
    const r = await proc.waitJson((m) => m.event === 'result' || m.event === 'error', 120000)
    return r.event === 'error' ? { failed: r.error } : r
  } finally {
    await proc.kill('SIGTERM', 3000)
  }
}

/** Redis's own CPU seconds so far (user + system). */
async function redisCpu (redis) {
  const info = await redisCli(redis.port, 'INFO', 'cpu')
  const get = (k) => Number(new RegExp(k + ':([0-9.]+)').exec(info)?.[1] || 0)
  return get('used_cpu_user') + get('used_cpu_sys')
}

function ratio (a, b, higherBetter) {
  // n/a (BullMQ has no channels), a failed run or a zero: no ratio.
  if (typeof a !== 'number' || typeof b !== 'number' || !a || !b) return '-'
  return (higherBetter ? a / b : b / a).toFixed(1) + 'x'
}

async function main () {
  const redis = await startRedis()
  const results = {}
  try {
    for (const impl of IMPLS) {
      process.stderr.write(`${impl}: ${N} messages...\n`)
      const t = await throughput(redis, impl)
      process.stderr.write(`${impl}: latency, ${LAT_N} messages one at a time...\n`)
      const l = await latency(redis, impl)
      process.stderr.write(`${impl}: ${args.queues} queues in parallel, ${N} messages...\n`)
      const par = await parallel(redis, impl)
      process.stderr.write(`${impl}: channel round trip, ${LAT_N} messages one at a time...\n`)
      const ch = await channelRtt(redis, impl)
      results[impl] = {
        ...t,
        p50_us: l.p50_us,
        p99_us: l.p99_us,
        latency_rss_mb: l.rss_mb,
        par_msgs_per_s: par.msgs_per_s,
        par_lost: par.lost,
        ch_p50_us: ch.p50_us,
        ch_p99_us: ch.p99_us,
        failed: [t.failed, l.failed, par.failed && `parallel: ${par.failed}`, ch.failed && `channel: ${ch.failed}`].filter(Boolean).join('; ') || undefined
      }
    }
  } finally {
    await redis.stop()
  }
  const rows = [
    ['msgs/s (1 producer, 1 consumer)', 'msgs_per_s', true],
    ['lost', 'lost', false],
    ['latency p50 µs (1 in flight)', 'p50_us', false],
    ['latency p99 µs (1 in flight)', 'p99_us', false],
    ['producer RSS MB', 'producer_rss_mb', false],
    ['consumer RSS MB', 'consumer_rss_mb', false],
    ['redis CPU s per 1M msgs', 'redis_cpu_s_per_million', false],
    [`msgs/s (${args.queues} queues, ${args.queues}+${args.queues} in parallel)`, 'par_msgs_per_s', true],
    [`lost (${args.queues} queues)`, 'par_lost', false],
    ['channel round trip p50 µs', 'ch_p50_us', false],
    ['channel round trip p99 µs', 'ch_p99_us', false]
  ]
  const others = IMPLS.filter((i) => i !== 'ours')
  const head = ['metric', ...IMPLS, ...(IMPLS.includes('ours') ? others.map((o) => `ours vs ${o}`) : [])]
  const lines = [head]
  for (const [label, key, higher] of rows) {
    const row = [label, ...IMPLS.map((i) => results[i][key] ?? '-')]
    if (IMPLS.includes('ours')) {
      for (const o of others) row.push(/lost/.test(key) ? '' : ratio(results.ours[key], results[o][key], higher))
    }
    lines.push(row)
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => String(l[c]).length)))
  console.log(`one queue, ${N} messages of ${args.size} bytes, one redis-server (ratios: > 1x means ours is better)`)
  for (const l of lines) console.log(l.map((v, c) => String(v).padEnd(widths[c])).join('  '))
  if (IMPLS.includes('bullmq')) console.log('channel round trip: BullMQ has no channels (n/a)')
  for (const i of IMPLS) if (results[i].failed) console.log(`${i} failed: ${results[i].failed}`)
  console.log(JSON.stringify({ n: N, latency_n: LAT_N, results }))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

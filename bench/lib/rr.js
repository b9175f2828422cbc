'use strict'
// Request/reply runs, the same for every engine that has a "backend" (a broker
// process, or a shared server), workers and clients: throughput with K in
// flight, one-in-flight latency, failover time, and RSS with N requests held.
// A family says how to start those three roles for one engine:
//   mdpFamily('ours' | 'pigato')  broker/worker/client role scripts
//   natsFamily(server)            nats-server (already running), responders in
//                                 a queue group, requesters
// Every run starts its own processes and stops them before it returns, also
// when it fails.

const { startRole, freePort, procUsage, cpuOf } = require('./proc')
const { percentile, cdfPoints } = require('./stats')

/** The heartbeat (ms) given to MDP brokers, workers and clients in every run. */
const MDP_HEARTBEAT = 500

function mdpFamily (impl) {
  return {
    label: impl,
    async backend () {
      const endpoint = `tcp://127.0.0.1:${await freePort()}`
      const broker = startRole('mdp-broker.js', ['--impl', impl, '--endpoint', endpoint, '--heartbeat', MDP_HEARTBEAT])
      await broker.next('ready', 15000)
      return { pids: [broker.pid], args: ['--endpoint', endpoint], stop: () => broker.stop() }
    },
    worker: (b, extra) => startRole('mdp-worker.js', ['--impl', impl, ...b.args, '--heartbeat', MDP_HEARTBEAT, ...extra]),
    client: (b, extra) => startRole('mdp-client.js', ['--impl', impl, ...b.args, '--heartbeat', MDP_HEARTBEAT, ...extra])
  }
}

function natsFamily (server) {
  return {
    label: 'nats',
    async backend () {
      return { pids: [server.pid], args: ['--port', server.port], stop: async () => {} }
    },
    worker: (b, extra) => startRole('nats-responder.js', [...b.args, ...extra]),
    client: (b, extra) => startRole('nats-requester.js', [...b.args, ...extra])
  }
}

/** Runs `body(ctx)` with a backend; stops every role in ctx.roles and the backend after. */
async function withBackend (family, body) {
  const backend = await family.backend()
  const roles = []
  try {
    return await body({ backend, roles, start: (role) => { roles.push(role); return role } })
  } finally {
    await Promise.all(roles.map((r) => r.stop()))
    await backend.stop()
  }
}

/** All clients print 'mark'; /proc is read; all get 'go'; their results are awaited. */
async function measured (pids, clients, resultMs) {
  await Promise.all(clients.map((c) => c.next('mark', resultMs)))
  const cpu0 = cpuOf(pids)
  for (const c of clients) c.send({ cmd: 'go' })
  const results = await Promise.all(clients.map((c) => c.next('result', resultMs)))
  return { results, cpuSec: cpuOf(pids) - cpu0 }
}

/** Throughput: `workers` echo workers, `clients` clients, each N requests with K in flight. */
function throughput (family, { workers, clients, n, inflight, warmup }) {
  return withBackend(family, async ({ backend, start }) => {
    const ws = Array.from({ length: workers }, () => start(family.worker(backend, ['--mode', 'echo', '--concurrency', inflight * clients])))
    await Promise.all(ws.map((w) => w.next('ready', 15000)))
    const cs = Array.from({ length: clients }, () => start(family.client(backend, ['--mode', 'throughput', '--n', n, '--inflight', inflight, '--warmup', warmup])))
    const pids = [...backend.pids, ...ws.map((w) => w.pid), ...cs.map((c) => c.pid)]
    const { results, cpuSec } = await measured(pids, cs, 120000)
    const ok = results.reduce((s, r) => s + r.ok, 0)
    const sent = results.reduce((s, r) => s + r.sent, 0)
    const seconds = Math.max(...results.map((r) => r.ms)) / 1000
    return {
      value: ok / seconds,
      unit: 'req/s',
      extra: { sent, ok, lost: sent - ok, errors: results.reduce((s, r) => s + r.errors + (r.wrong || 0), 0), seconds, cpuSec, cpuPerMillion: (cpuSec / ok) * 1e6 }
    }
  })
}

/** Latency: one echo worker, one client, N requests one at a time. */
function latency (family, { n, warmup }) {
  return withBackend(family, async ({ backend, start }) => {
    const w = start(family.worker(backend, ['--mode', 'echo']))
    await w.next('ready', 15000)
    const c = start(family.client(backend, ['--mode', 'latency', '--n', n, '--warmup', warmup]))
    const { results: [r] } = await measured([], [c], 120000)
    const xs = r.samples.sort((x, y) => x - y)
    return {
      value: percentile(xs, 50),
      unit: 'µs p50',
      extra: { p50: percentile(xs, 50), p99: percentile(xs, 99), p999: percentile(xs, 99.9), max: xs[xs.length - 1], samples: xs.length, lost: r.sent - r.ok, errors: r.errors, cdf: cdfPoints(xs) }
    }
  })
}

/**
 * Failover: workers A and B, one client with one request in flight (retry on);
 * A is killed (SIGKILL) a third of the way in. The figure is the longest gap
 * between two replies that ends after the kill (the one spanning the kill
 * included): how long the client saw no answer because of the failure.
 */
function failover (family, { duration, extraClient = [] }) {
  return withBackend(family, async ({ backend, start }) => {
    const a = start(family.worker(backend, ['--mode', 'echo', '--id', 'A']))
    await a.next('ready', 15000)
    const c = start(family.client(backend, ['--mode', 'failover', '--duration', duration, '--warmup', 20, ...extraClient]))
    await c.next('mark', 30000)
    const b = start(family.worker(backend, ['--mode', 'echo', '--id', 'B']))
    await b.next('ready', 15000)
    await new Promise((resolve) => setTimeout(resolve, 300)) // B registers with the broker
    c.send({ cmd: 'go' })
    await new Promise((resolve) => setTimeout(resolve, duration / 3))
    const killedAt = Date.now()
    a.child.kill('SIGKILL')
    c.send({ cmd: 'killed', at: killedAt })
    const r = await c.next('result', duration + 60000)
    const recovered = (r.servedBy.B || 0) > 0 && r.gapEndedAt >= killedAt && r.maxGapMs > 0
    return {
      value: r.maxGapMs,
      unit: 'ms',
      extra: { ok: r.ok, errors: r.errors, resent: r.resent || 0, lost: r.errors, servedBy: r.servedBy, recovered, heartbeatMs: family.label === 'nats' ? undefined : MDP_HEARTBEAT },
      failed: recovered ? undefined : 'no reply from worker B after the kill'
    }
  })
}

/**
 * Memory: one client sends N requests at once, one worker holds all of them;
 * RSS of each process then. A worker that has not got them all after heldMs
 * fails the run (and says how many it got).
 */
function memory (family, { n, heldMs = 60000 }) {
  return withBackend(family, async ({ backend, start }) => {
    const w = start(family.worker(backend, ['--mode', 'hold', '--expect', n, '--concurrency', n]))
    await w.next('ready', 15000)
    const c = start(family.client(backend, ['--mode', 'flood', '--n', n, '--warmup', 0, '--timeout', 600000]))
    await c.next('mark')
    const rss = (pid) => (procUsage(pid)?.rss ?? NaN) / 2 ** 20
    const idle = { client: rss(c.pid), worker: rss(w.pid), broker: rss(backend.pids[0]) }
    c.send({ cmd: 'go' })
    try {
      await w.next('held', heldMs)
    } catch (err) {
      if (w.exited || c.exited) throw err
      w.send({ cmd: 'count' })
      const count = await w.next('count', 5000).catch(() => ({ held: '?' }))
      return { failed: `the worker got ${count.held} of ${n} requests in ${heldMs / 1000} s (the rest lost or stuck)` }
    }
    const held = { client: rss(c.pid), worker: rss(w.pid), broker: rss(backend.pids[0]) }
    w.send({ cmd: 'release' })
    const r = await c.next('result', 300000)
    return {
      value: held.client + held.worker + held.broker,
      unit: 'MB RSS',
      extra: { held, idle, sent: r.sent, ok: r.ok, lost: r.sent - r.ok, errors: r.errors }
    }
  })
}

module.exports = { mdpFamily, natsFamily, throughput, latency, failover, memory, MDP_HEARTBEAT }

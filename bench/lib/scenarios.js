'use strict'
// The scenarios of `npm run bench`. Each is a small object:
//   { name, title, measures, better: 'higher'|'lower', peers: { <peer>: fn } }
// and each fn(ctx) runs ONE repetition in fresh processes and returns
// { value, unit, extra, failed? } or { skip: reason }; it may throw (the row
// then says "failed: <message>"). ctx = { cfg, servers, ours }.
// Per-engine scripts from other branches plug in here as more peer fns.

const path = require('node:path')
const rr = require('./rr')
const floor = require('./floor')
const { pubsub } = require('./pubsub')

/** Counts per mode. Full is what the README reports; quick is a smoke test. */
const CONFIG = {
  full: { reps: 3, n: 20000, inflight: 1000, warmup: 2000, latN: 5000, latWarm: 500, psN: 200000, fanN: 50000, failMs: 4000, memN: 100000, memHeldMs: 60000, idleMs: 1000, proxyN: 1000000 },
  quick: { reps: 1, n: 3000, inflight: 1000, warmup: 300, latN: 300, latWarm: 50, psN: 10000, fanN: 5000, failMs: 1500, memN: 5000, memHeldMs: 8000, idleMs: 500, proxyN: 100000 }
}

/** A peer that needs a server: skip when it is unavailable. */
function needs (server, fn) {
  return (ctx) => {
    const s = ctx.servers[server]
    if (!s) return { skip: `${server} not started (--only)` }
    if (s.unavailable) return { skip: `unavailable: ${s.unavailable}` }
    return fn(ctx, s)
  }
}

/** Hooks for APIs being built on other branches: skip until they land on main. */
function oursApi (name, fn) {
  return (ctx) => (typeof ctx.ours[name] === 'function' ? fn(ctx) : { skip: `not merged yet: require('..').${name} is missing` })
}

const mdp = (impl) => rr.mdpFamily(impl)
/** bench/sockets.js, loaded when a socket scenario runs. */
const sockets = () => require('../sockets')

/** Runs `bench/bus.js` (the zmqbus-specific bench) for some of its parts; resolves its summary. */
function busBench (parts, n) {
  const { execFile } = require('node:child_process')
  const path = require('node:path')
  return new Promise((resolve) => {
    const env = { ...process.env, BENCH_BUS_PARTS: parts, BENCH_BUS_N: String(n), BENCH_BUS_N_JS: String(n) }
    execFile(process.execPath, [path.join(__dirname, '..', 'bus.js')], { env, timeout: 240000, maxBuffer: 1 << 24 }, (err, stdout) => {
      const line = String(stdout).trim().split('\n').reverse().find((l) => l.startsWith('{"bench":"bus"'))
      if (!line) return resolve({ failed: `bench/bus.js gave no summary${err ? ': ' + err.message : ''}` })
      resolve(JSON.parse(line))
    })
  })
}

/** The zmqbus-style JavaScript relay (the original's topology on `zeromq`), 1 publisher, 1 subscriber. */
async function relayJs (n) {
  const r = await busBench('js', n)
  if (r.failed) return r
  const u = r.js.unpaced
  const lost = u.published - u.delivered
  return { value: Math.round(u.rate), unit: 'msg/s delivered', extra: { lost, lossPct: u.lossPct } }
}

/** Our bus: kill -9 the master among nodes; time until the first message delivered after it. */
async function busFailover () {
  const r = await busBench('failover', 1000)
  if (r.failed) return r
  const times = r.failover.map((f) => f.firstMessageMs).sort((a, b) => a - b)
  return { value: times[times.length >> 1], unit: 'ms', extra: { electedMs: r.failover.map((f) => f.electedMs) } }
}

function rrThroughput (workers, clients) {
  const shape = (c) => ({ workers, clients, n: c.n, inflight: c.inflight, warmup: c.warmup })
  return {
    name: `rr-${workers}w${clients}c`,
    title: `Request/reply throughput, ${workers} worker${workers > 1 ? 's' : ''}, ${clients} client${clients > 1 ? 's' : ''}`,
    measures: 'replies/s received by the clients (all clients together), each client with 1,000 requests in flight, echo worker; CPU = user+system seconds of every process of the run (broker or server included) per 1M requests',
    better: 'higher',
    peers: {
      ours: (ctx) => rr.throughput(mdp('ours'), shape(ctx.cfg)),
      pigato: (ctx) => rr.throughput(mdp('pigato'), shape(ctx.cfg)),
      nats: needs('nats', (ctx, s) => rr.throughput(rr.natsFamily(s), shape(ctx.cfg)))
    }
  }
}

function ps (name, title, subs, nKey) {
  const run = (kind) => (ctx, s) => pubsub(kind, { subs, n: ctx.cfg[nKey], idleMs: ctx.cfg.idleMs, port: s?.port, serverPid: s?.pid })
  return {
    name,
    title,
    measures: `messages delivered per second over all ${subs} subscriber${subs > 1 ? 's' : ''} (16-byte payload), from the first publish to the last arrival; lost = published x subscribers - delivered; CPU per 1M deliveries (publisher, subscribers and server)`,
    better: 'higher',
    peers: {
      'ours-sockets': oursApi('socket', (ctx) => run('ours-sockets')(ctx)),
      'ours-bus': oursApi('createNode', (ctx) => run('ours-bus')(ctx)),
      ...(subs === 1 ? { 'relay-js': (ctx) => relayJs(ctx.cfg[nKey]) } : {}),
      zeromq: (ctx) => run('zeromq')(ctx),
      nats: needs('nats', run('nats')),
      redis: needs('redis', run('redis'))
    }
  }
}

const scenarios = [
  rrThroughput(1, 1),
  rrThroughput(2, 2),
  {
    name: 'latency',
    title: 'Request/reply latency, one request in flight',
    measures: 'round trip of one 17-byte request to an echo worker and back, measured in the client; value = p50, with p99 and p999. The floor row is this VM\'s least round trip between two processes (a blocking Rust echo of 3 bytes, bench/floor), measured in the same run; a request through a broker is two such round trips at least',
    better: 'lower',
    peers: {
      ours: (ctx) => rr.latency(mdp('ours'), { n: ctx.cfg.latN, warmup: ctx.cfg.latWarm }),
      // The VM's floor: a blocking Rust echo pair (two round trips of it are the least a request
      // through a broker can cost).
      floor: (ctx) => floor.latency({ n: ctx.cfg.latN, warmup: ctx.cfg.latWarm }),
      pigato: (ctx) => rr.latency(mdp('pigato'), { n: ctx.cfg.latN, warmup: ctx.cfg.latWarm }),
      nats: needs('nats', (ctx, s) => rr.latency(rr.natsFamily(s), { n: ctx.cfg.latN, warmup: ctx.cfg.latWarm }))
    }
  },
  ps('pubsub', 'Pub/sub throughput and loss, 1 publisher, 1 subscriber', 1, 'psN'),
  ps('fanout', 'Fan-out, 1 publisher, 4 subscribers', 4, 'fanN'),
  {
    name: 'failover',
    title: 'Failover time',
    measures: `two workers, one request in flight (pigato API: retry 1; NATS: resend after a 1 s timeout); one worker is SIGKILLed; value = longest gap between two replies that ends after the kill (the client keeps going until one reply after the kill has come). MDP heartbeat ${rr.MDP_HEARTBEAT} ms (liveness 3) for broker, workers and client`,
    better: 'lower',
    peers: {
      ours: (ctx) => rr.failover(mdp('ours'), { duration: ctx.cfg.failMs }),
      pigato: (ctx) => rr.failover(mdp('pigato'), { duration: ctx.cfg.failMs }),
      nats: needs('nats', (ctx, s) => rr.failover(rr.natsFamily(s), { duration: ctx.cfg.failMs, extraClient: ['--retry-timeout', 1000] })),
      // The bus's own failover: 3 kills of the master (fast settings), median time to the
      // first message delivered after the kill.
      'ours-bus': oursApi('createNode', () => busFailover())
    }
  },
  {
    name: 'proxy',
    title: 'zmq.proxy throughput, PUSH -> proxy -> PULL',
    measures: 'three processes over tcp loopback: a PUSH sends N 3-byte messages (N = 1,000,000 in the full run) to a PULL frontend, zmq.proxy moves them to a PUSH backend, a PULL counts them; value = msgs/s from the first to the last at that PULL. ours: the proxy runs in our engine (frames never enter JS); zeromq: libzmq\'s zmq_proxy on a worker thread (zeromq\'s Proxy class)',
    better: 'higher',
    peers: {
      ours: async (ctx) => ({ value: Math.round(await sockets().benchProxy('ours', ctx.cfg.proxyN)), unit: 'msg/s' }),
      zeromq: async (ctx) => ({ value: Math.round(await sockets().benchProxy('zeromq', ctx.cfg.proxyN)), unit: 'msg/s' })
    }
  },
  {
    name: 'memory',
    title: 'Memory with requests in flight',
    measures: 'RSS (from /proc/<pid>/status) of client + worker + broker while the worker holds N requests (N = 100,000 in the full run; a worker that has not got all N within 60 s fails the run); for NATS the "broker" is nats-server',
    better: 'lower',
    peers: {
      ours: (ctx) => rr.memory(mdp('ours'), { n: ctx.cfg.memN, heldMs: ctx.cfg.memHeldMs }),
      pigato: (ctx) => rr.memory(mdp('pigato'), { n: ctx.cfg.memN, heldMs: ctx.cfg.memHeldMs }),
      nats: needs('nats', (ctx, s) => rr.memory(rr.natsFamily(s), { n: ctx.cfg.memN, heldMs: ctx.cfg.memHeldMs }))
    }
  }
]

/** This package as the bench sees it (for the hooks). */
function loadOurs () {
  return require(path.join(__dirname, '..', '..'))
}

module.exports = { scenarios, CONFIG, loadOurs }

'use strict'
// Classic sockets benchmark: ours (zmqbus/zmq) against libzmq through `zeromq` (v6 API) and
// `zeromq/v5-compat`, two processes over tcp loopback, 3-byte messages:
//   push  PUSH -> PULL, 1,000,000 messages: msgs/s (first to last message at the PULL)
//   echo  DEALER -> ROUTER echo, 1,000 in flight: round trips/s and messages lost
//   lat   DEALER -> ROUTER echo, one in flight: p50 / p99 in µs
//   curve PUSH -> PULL as `push`, with CURVE on both ends (the same keys for both implementations)
//   proxy PUSH -> zmq.proxy (PULL frontend, PUSH backend) -> PULL in three processes, msgs/s at the
//         last PULL (ours: the proxy in our engine; zeromq: libzmq's zmq_proxy on its worker thread via
//         zeromq's Proxy; v5: v5-compat's proxy on 'message' events). Also a row of `npm run bench`.
// Both ends of a run use the same implementation. Needs a built addon (`npm run build`).
// Usage: node bench/sockets.js [impl...]   (impls: ours zeromq v5)
const { spawn } = require('child_process')
const readline = require('readline')

// BENCH_SCALE (e.g. 0.05) shrinks the counts for a quick check of the harness.
const SCALE = Number(process.env.BENCH_SCALE || 1)
const PUSH_N = Number(process.env.BENCH_PUSH_N) || Math.round(1_000_000 * SCALE)
const ECHO_N = Math.round(200_000 * SCALE)
const IN_FLIGHT = 1000
const LAT_WARMUP = 500
const LAT_N = 5000
const RUN_TIMEOUT_MS = 40_000
const MSG = Buffer.from('abc')
const IMPLS = ['ours', 'zeromq', 'v5']

const impl = {
  ours: () => require('../zmq'),
  v5: () => require('zeromq/v5-compat'),
  zeromq: () => require('zeromq')
}

// ------------------------------------------------------------ the peer process (`--peer`)

async function peer (name, role, ep) {
  const zmq = impl[name]()
  if (role === 'push') return name === 'zeromq' ? pushV6(zmq, ep) : pushClassic(zmq, ep)
  if (role === 'router') return name === 'zeromq' ? routerV6(zmq) : routerClassic(zmq)
  if (role === 'proxy') return name === 'zeromq' ? proxyV6(zmq) : proxyClassic(zmq)
}

/** The middle process of `proxy`: prints "<frontend> <backend>" once both are bound, then proxies. */
function proxyClassic (zmq) {
  const frontend = zmq.socket('pull')
  const backend = zmq.socket('push')
  frontend.bindSync('tcp://127.0.0.1:*')
  backend.bindSync('tcp://127.0.0.1:*')
  const ep = (s) => String(s.getsockopt(zmq.ZMQ_LAST_ENDPOINT)).replace(/\0$/, '')
  zmq.proxy(frontend, backend)
  console.log(`${ep(frontend)} ${ep(backend)}`)
}

async function proxyV6 (zmq) {
  const proxy = new zmq.Proxy(new zmq.Pull(), new zmq.Push())
  await proxy.frontEnd.bind('tcp://127.0.0.1:*')
  await proxy.backEnd.bind('tcp://127.0.0.1:*')
  console.log(`${proxy.frontEnd.lastEndpoint} ${proxy.backEnd.lastEndpoint}`)
  await proxy.run()
}

/** CURVE keys of a run, from the measuring process (`BENCH_CURVE`: server public, server secret, client
 *  public, client secret in Z85), or null for NULL. */
function curveKeys () {
  const k = process.env.BENCH_CURVE
  if (!k) return null
  const [serverPublic, serverSecret, clientPublic, clientSecret] = k.split(',')
  return { serverPublic, serverSecret, clientPublic, clientSecret }
}

function pushClassic (zmq, ep) {
  const push = zmq.socket('push')
  const keys = curveKeys()
  if (keys) {
    push.setsockopt(zmq.ZMQ_CURVE_SERVERKEY, Buffer.from(keys.serverPublic))
    push.setsockopt(zmq.ZMQ_CURVE_PUBLICKEY, Buffer.from(keys.clientPublic))
    push.setsockopt(zmq.ZMQ_CURVE_SECRETKEY, Buffer.from(keys.clientSecret))
  }
  push.connect(ep)
  let sent = 0
  // Chunks per tick keep each native batch (ours) or JS queue (v5) bounded.
  const chunk = () => {
    const end = Math.min(sent + 10_000, PUSH_N)
    for (; sent < end - 1; sent++) push.send(MSG)
    // The last message of a chunk waits for its callback: v5-compat queues in JS and would
    // fail queued sends at close(), and this paces the producer for both APIs.
    sent++
    push.send(MSG, 0, () => {
      if (sent < PUSH_N) setImmediate(chunk)
      else push.close()
    })
  }
  setImmediate(chunk)
}

async function pushV6 (zmq, ep) {
  const keys = curveKeys()
  const curve = keys ? { curveServerKey: keys.serverPublic, curvePublicKey: keys.clientPublic, curveSecretKey: keys.clientSecret } : {}
  const push = new zmq.Push({ linger: 10_000, ...curve })
  push.connect(ep)
  for (let i = 0; i < PUSH_N; i++) await push.send(MSG)
  push.close()
}

function routerClassic (zmq) {
  const router = zmq.socket('router')
  router.bindSync('tcp://127.0.0.1:*')
  router.on('message', (id, m) => router.send([id, m]))
  console.log(String(router.getsockopt(zmq.ZMQ_LAST_ENDPOINT)).replace(/\0$/, ''))
}

async function routerV6 (zmq) {
  const router = new zmq.Router()
  await router.bind('tcp://127.0.0.1:*')
  console.log(router.lastEndpoint)
  for await (const [id, m] of router) await router.send([id, m])
}

// ------------------------------------------------------------ the measuring process

function startPeer (name, role, ep, env = process.env) {
  const child = spawn(process.execPath, [__filename, '--peer', name, role, ep || ''], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const firstLine = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`peer ${name} ${role} exited with ${code}`)))
  })
  firstLine.catch(() => {}) // only the router role prints a line
  return { child, firstLine }
}

function bounded (promise, what) {
  let timer
  const t = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out`)), RUN_TIMEOUT_MS) })
  return Promise.race([promise, t]).finally(() => clearTimeout(timer))
}

/** Receiver side of PUSH -> PULL; resolves with msgs/s. */
async function benchPush (name) {
  const zmq = impl[name]()
  let ep
  let recv
  let close
  const keys = curveKeys()
  if (name === 'zeromq') {
    const pull = new zmq.Pull(keys ? { curveServer: true, curveSecretKey: keys.serverSecret } : {})
    await pull.bind('tcp://127.0.0.1:*')
    ep = pull.lastEndpoint
    recv = (async () => {
      let n = 0
      let t0 = 0
      for await (const _ of pull) { // eslint-disable-line no-unused-vars
        if (n++ === 0) t0 = process.hrtime.bigint()
        if (n === PUSH_N) return process.hrtime.bigint() - t0
      }
    })()
    close = () => pull.close()
  } else {
    const pull = zmq.socket('pull')
    if (keys) {
      pull.setsockopt(zmq.ZMQ_CURVE_SERVER, 1)
      pull.setsockopt(zmq.ZMQ_CURVE_SECRETKEY, Buffer.from(keys.serverSecret))
    }
    pull.bindSync('tcp://127.0.0.1:*')
    ep = String(pull.getsockopt(zmq.ZMQ_LAST_ENDPOINT)).replace(/\0$/, '')
    recv = new Promise((resolve) => {
      let n = 0
      let t0 = 0
      pull.on('message', () => {
        if (n++ === 0) t0 = process.hrtime.bigint()
        if (n === PUSH_N) resolve(process.hrtime.bigint() - t0)
      })
    })
    close = () => pull.close()
  }
  const { child } = startPeer(name, 'push', ep)
  try {
    const ns = await bounded(recv, `${name} push`)
    return PUSH_N / (Number(ns) / 1e9)
  } finally {
    close()
    child.kill()
  }
}

/** A PULL connected to `ep` counting `n` messages; `done` resolves with ns from the first to the last. */
function countingPull (name, zmq, ep, n) {
  if (name === 'zeromq') {
    const pull = new zmq.Pull()
    pull.connect(ep)
    const done = (async () => {
      let got = 0
      let t0 = 0n
      for await (const _ of pull) { // eslint-disable-line no-unused-vars
        if (got++ === 0) t0 = process.hrtime.bigint()
        if (got === n) return process.hrtime.bigint() - t0
      }
    })()
    return { done, close: () => pull.close() }
  }
  const pull = zmq.socket('pull')
  pull.connect(ep)
  const done = new Promise((resolve) => {
    let got = 0
    let t0 = 0n
    pull.on('message', () => {
      if (got++ === 0) t0 = process.hrtime.bigint()
      if (got === n) resolve(process.hrtime.bigint() - t0)
    })
  })
  return { done, close: () => pull.close() }
}

/** PUSH -> zmq.proxy -> PULL in three processes (this one pulls); resolves with msgs/s. */
async function benchProxy (name, n = PUSH_N) {
  const zmq = impl[name]()
  const env = { ...process.env, BENCH_PUSH_N: String(n) }
  const middle = startPeer(name, 'proxy', '', env)
  let producer = null
  let pull = null
  try {
    const [front, back] = (await bounded(middle.firstLine, `${name} proxy start`)).split(' ')
    pull = countingPull(name, zmq, back, n)
    producer = startPeer(name, 'push', front, env)
    const ns = await bounded(pull.done, `${name} proxy`)
    return n / (Number(ns) / 1e9)
  } finally {
    if (pull) pull.close()
    if (producer) producer.child.kill()
    middle.child.kill()
  }
}

/** A DEALER speaking to a peer ROUTER: `send(buf)` and `onReply(cb)` over either API. */
function dealerFor (name, zmq, ep) {
  if (name === 'zeromq') {
    const d = new zmq.Dealer()
    d.connect(ep)
    const queue = []
    let sending = false
    const pump = async () => {
      sending = true
      while (queue.length > 0) await d.send(queue.shift())
      sending = false
    }
    return {
      send: (m) => { queue.push(m); if (!sending) pump() },
      onReply: (cb) => { (async () => { for await (const [m] of d) cb(m) })().catch(() => {}) },
      close: () => d.close()
    }
  }
  const d = zmq.socket('dealer')
  d.connect(ep)
  return { send: (m) => d.send(m), onReply: (cb) => d.on('message', cb), close: () => d.close() }
}

async function benchEcho (name) {
  const zmq = impl[name]()
  const { child, firstLine } = startPeer(name, 'router')
  const d = dealerFor(name, zmq, await firstLine)
  try {
    // Latency first (one in flight), then throughput with 1,000 in flight.
    const lat = await bounded(new Promise((resolve) => {
      const samples = []
      let t0 = 0n
      let n = 0
      d.onReply(() => {
        if (n < LAT_WARMUP + LAT_N) {
          if (n >= LAT_WARMUP) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
          n++
          if (n === LAT_WARMUP + LAT_N) return resolve(samples)
          t0 = process.hrtime.bigint()
          d.send(MSG)
          return
        }
        echo.onReply()
      })
      t0 = process.hrtime.bigint()
      d.send(MSG)
    }), `${name} latency`)
    lat.sort((a, b) => a - b)
    const echo = { onReply: null }
    const thr = await bounded(new Promise((resolve) => {
      let sent = 0
      let got = 0
      const t0 = process.hrtime.bigint()
      let last = got
      // A stall (messages dropped somewhere) ends the run with what arrived; `lost` says how many.
      const watchdog = setInterval(() => {
        if (got === last) {
          clearInterval(watchdog)
          resolve({ rate: got / (Number(process.hrtime.bigint() - t0) / 1e9), lost: sent - got })
        }
        last = got
      }, 3000)
      echo.onReply = () => {
        got++
        if (sent < ECHO_N) { sent++; d.send(MSG) }
        if (got === ECHO_N) clearInterval(watchdog)
        if (got === ECHO_N) resolve({ rate: ECHO_N / (Number(process.hrtime.bigint() - t0) / 1e9), lost: sent - got })
      }
      for (; sent < IN_FLIGHT; sent++) d.send(MSG)
    }), `${name} echo`)
    return { p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], rate: thr.rate, lost: thr.lost }
  } finally {
    d.close()
    child.kill()
  }
}

function fmt (n, digits = 0) {
  return n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits })
}

/** Runs `fn` with fresh CURVE keys in the environment its peers inherit. */
async function withCurve (fn) {
  const { curveKeyPair } = require('..')
  const server = curveKeyPair()
  const client = curveKeyPair()
  process.env.BENCH_CURVE = [server.publicKey, server.secretKey, client.publicKey, client.secretKey].join(',')
  try {
    return await fn()
  } finally {
    delete process.env.BENCH_CURVE
  }
}

async function main () {
  const wanted = process.argv.slice(2).filter((a) => IMPLS.includes(a))
  const names = wanted.length > 0 ? wanted : IMPLS
  const results = {}
  for (const name of names) {
    const r = {}
    try {
      r.push = await benchPush(name)
      Object.assign(r, await benchEcho(name))
      r.curve = await withCurve(() => benchPush(name))
      r.proxy = await benchProxy(name)
    } catch (err) {
      r.error = err.message
    }
    results[name] = r
    console.error(`${name}: ${JSON.stringify(r)}`)
  }
  const rows = [
    ['PUSH->PULL 1M x 3 B (msgs/s)', 'push', 0, true],
    ['PUSH->PULL over CURVE (msgs/s)', 'curve', 0, true],
    ['PUSH->zmq.proxy->PULL, 3 processes (msgs/s)', 'proxy', 0, true],
    [`DEALER->ROUTER echo, ${IN_FLIGHT} in flight (rt/s)`, 'rate', 0, true],
    ['echo messages lost', 'lost', 0, null],
    ['one in flight p50 (µs)', 'p50', 1, false],
    ['one in flight p99 (µs)', 'p99', 1, false]
  ]
  const header = ['test', ...names, ...names.filter((n) => n !== 'ours').map((n) => `ours/${n}`)]
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map(() => '---').join('|')}|`)
  for (const [label, key, digits, higherBetter] of rows) {
    const cells = names.map((n) => fmt(results[n][key], digits))
    const ratios = names.filter((n) => n !== 'ours').map((n) => {
      const a = results.ours && results.ours[key]
      const b = results[n][key]
      if (higherBetter === null || !a || !b) return '-'
      return `${(a / b).toFixed(2)}x`
    })
    console.log(`| ${[label, ...cells, ...ratios].join(' | ')} |`)
  }
  for (const n of names) if (results[n].error) console.log(`${n} failed: ${results[n].error}`)
  console.log('(ratios are ours / other: above 1 is better for throughput, below 1 is better for latency)')
}

if (require.main !== module) {
  // `npm run bench` takes the proxy row from here (bench/lib/scenarios.js).
  module.exports = { benchProxy, benchPush }
} else if (process.argv[2] === '--peer') {
  peer(process.argv[3], process.argv[4], process.argv[5]).catch((err) => { console.error(err); process.exit(1) })
} else {
  main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
}

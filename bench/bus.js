'use strict'
// npm run bench:bus — the zmqbus node on loopback (multicast_interface 127.0.0.1 only).
//  1. throughput: 1,000,000 publishes of ('equity', 'AAPL', 500.0) from one process, counted
//     in a JS 'message' handler in another; the publisher's node is the master (its forwarder
//     relays in Rust). Reports delivered msgs/s (first publish -> last delivery) and loss.
//  2. paced: the same at 1,000,000 msgs/s, reporting loss.
//  3. the JS relay baseline (original topology on `zeromq`) for both, and the ratios.
//  4. failover: kill -9 the master, time to the new 'elected' event and to the first delivery,
//     with election_timeout 250, heartbeat_period 200, heartbeat_timeout 600.
// Bounded: every wait has a time limit; the whole run takes well under 3 minutes.

const { spawnChild, children } = require('./lib/bus-children')
const N = Number(process.env.BENCH_BUS_N || 1000000)
// The JS baseline relays some 10-30k msgs/s here: it gets fewer messages so the run stays short.
const N_JS = Math.min(N, Number(process.env.BENCH_BUS_N_JS || 200000))
const PARTS = (process.env.BENCH_BUS_PARTS || 'ours,js,failover').split(',')
const RATE = 1000000
const FAST = { election_timeout: 250, heartbeat_period: 200, heartbeat_timeout: 600 }


function group () {
  return { multicast_addr: `239.255.${1 + rnd(250)}.${1 + rnd(250)}`, multicast_port: 20000 + rnd(40000) }
}
function rnd (n) { return Math.floor(Math.random() * n) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sends warm-up messages until the subscriber sees one, then zeroes its counter. */
async function prime (pub, sub) {
  for (let i = 0; i < 200; i++) {
    pub.send({ cmd: 'warm' })
    sub.send({ cmd: 'count' })
    const c = await sub.wait('count', 2000, () => true, true)
    if (c.count > 0) break
    await sleep(25)
  }
  await sleep(200)
  sub.send({ cmd: 'reset' })
  await sub.wait('reset', 2000, () => true, true)
}

/** One run: publish n (at `rate` or unpaced), wait until delivery goes quiet, report. */
async function measure (pub, sub, n, rate) {
  pub.send({ cmd: 'run', n, rate })
  const published = await pub.wait('published', 60000, () => true, true)
  let c = { count: -1 }
  for (let quiet = 0; quiet < 3;) { // quiet: three polls 200 ms apart without progress
    await sleep(200)
    sub.send({ cmd: 'count' })
    const next = await sub.wait('count', 5000, () => true, true)
    quiet = next.count === c.count ? quiet + 1 : 0
    c = next
    if (c.count >= n) break
  }
  const span = c.count > 0 ? c.last - published.t0 : NaN
  sub.send({ cmd: 'reset' })
  await sub.wait('reset', 2000, () => true, true)
  return {
    published: n,
    publishMs: published.ms,
    delivered: c.count,
    lossPct: 100 * (n - c.count) / n,
    rate: c.count / (span / 1000),
    handlerRate: c.count > 1 ? c.count / ((c.last - c.first) / 1000) : NaN,
    drops: c.drops
  }
}

async function benchOurs () {
  const g = group()
  const pub = spawnChild('ours-pub', { node: { ...g, ...FAST, election_priority: 9, publish_buffer: 2000000 } })
  const sub = spawnChild('ours-sub', { node: { ...g, ...FAST, election_priority: 0 } })
  try {
    await Promise.all([pub.wait('ready'), sub.wait('ready')])
    sub.send({ cmd: 'subscribe', channel: 'equity' })
    await prime(pub, sub)
    const unpaced = await measure(pub, sub, N, 0)
    const paced = await measure(pub, sub, N, RATE)
    return { unpaced, paced }
  } finally {
    await Promise.all([pub.kill(), sub.kill()])
  }
}

async function benchJs () {
  const pub = spawnChild('js-pub', {})
  try {
    const info = await pub.wait('ready')
    const sub = spawnChild('js-sub', { pub_addr: info.pub_addr })
    try {
      await sub.wait('ready')
      sub.send({ cmd: 'subscribe', channel: 'equity' })
      await prime(pub, sub)
      const unpaced = await measure(pub, sub, N_JS, 0)
      const paced = await measure(pub, sub, N_JS, RATE)
      return { unpaced, paced }
    } finally {
      await sub.kill()
    }
  } finally {
    await pub.kill()
  }
}

/** Master (idle), publisher every 1 ms, subscriber; kill -9 the master. */
async function benchFailover () {
  const g = group()
  const master = spawnChild('ours-idle', { node: { ...g, ...FAST, election_priority: 9 } })
  const pub = spawnChild('ours-pub', { node: { ...g, ...FAST, election_priority: 5 } })
  const sub = spawnChild('ours-sub', { failover: true, node: { ...g, ...FAST, election_priority: 0 } })
  try {
    await Promise.all([master.wait('ready'), pub.wait('ready'), sub.wait('ready')])
    const masterId = (await master.wait('elected', 5000, (l) => l.isMe)).id
    await sub.wait('elected', 5000, (l) => l.id === masterId)
    sub.send({ cmd: 'subscribe', channel: 'equity' })
    await prime(pub, sub)
    pub.send({ cmd: 'pace', interval: 1 })
    await sleep(500)
    const killedAt = Date.now()
    await master.kill()
    const elected = await sub.wait('elected', 5000, (l) => l.id !== masterId)
    const first = await sub.wait('first', 5000, (l) => l.t >= elected.t)
    return { electedMs: elected.t - killedAt, firstMessageMs: first.t - killedAt }
  } finally {
    await Promise.all([master.kill(), pub.kill(), sub.kill()])
  }
}

const fmt = (x) => Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x)

function report (name, r) {
  console.log(`${name.padEnd(34)} delivered ${fmt(r.delivered)}/${fmt(r.published)} ` +
    `(loss ${r.lossPct.toFixed(2)}%), ${fmt(r.rate)} msgs/s publish->last delivery, ` +
    `${fmt(r.handlerRate)} msgs/s in the handler, publish took ${fmt(r.publishMs)} ms` +
    (r.drops ? `, drops ${JSON.stringify(r.drops)}` : ''))
}

async function main () {
  const started = Date.now()
  const timer = setTimeout(() => { console.error('bench:bus exceeded 170 s; aborting'); cleanup(); process.exit(2) }, 170000)
  console.log(`zmqbus node bench: ${fmt(N)} messages ('equity', 'AAPL', 500.0), loopback, node ${process.version}`)
  let ours, js
  if (PARTS.includes('ours')) {
    ours = await benchOurs()
    report('ours, unpaced', ours.unpaced)
    report(`ours, paced ${fmt(RATE)}/s`, ours.paced)
  }
  if (PARTS.includes('js')) {
    js = await benchJs()
    report(`JS relay baseline, unpaced (${fmt(N_JS)})`, js.unpaced)
    report(`JS relay baseline, paced ${fmt(RATE)}/s (${fmt(N_JS)})`, js.paced)
  }
  if (ours && js) {
    console.log(`ratio unpaced (ours / JS): ${(ours.unpaced.rate / js.unpaced.rate).toFixed(2)}x delivered msgs/s`)
    console.log(`ratio paced (ours / JS): ${(ours.paced.rate / js.paced.rate).toFixed(2)}x delivered msgs/s; ` +
      `loss ${ours.paced.lossPct.toFixed(2)}% vs ${js.paced.lossPct.toFixed(2)}%`)
  }
  const fo = []
  for (let i = 0; PARTS.includes('failover') && i < 3; i++) fo.push(await benchFailover())
  for (const f of fo) console.log(`failover (kill -9 master): new 'elected' after ${f.electedMs} ms, first delivery after ${f.firstMessageMs} ms`)
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`)
  // One machine-readable line for bench/run.js (the unified report).
  console.log(JSON.stringify({ bench: 'bus', ours, js, failover: fo }))
  clearTimeout(timer)
}

function cleanup () {
  for (const c of children) c.proc.kill('SIGKILL')
}

process.on('exit', cleanup)
main().catch((err) => { console.error(err); cleanup(); process.exit(1) })

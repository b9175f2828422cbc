'use strict'
// Processes of `npm run bench:busmq` beyond one queue (see bench/busmq.js): queues in parallel
// and a channel round trip, with ours (zmqbus/busmq), busmq 3.1 or BullMQ. Prints JSON lines:
// `ready`, then `result` (or `error`). Roles:
//   producers: --queues Q queues, one producer per queue (its own bus or BullMQ Queue), each
//              pushing n/Q messages with `window` callbacks in flight (BullMQ: addBulk).
//   consumers: one consumer per queue (its own bus or BullMQ Worker); `result` when every
//              queue's n/Q messages arrived (or 10 s after `producer-done` with nothing new).
//   channel:   two channel ends on two buses in this process; one message in flight, the far
//              end echoes it back; round-trip time per message (ours and busmq only).
//   --impl ours|busmq|bullmq --role producers|consumers|channel --url redis://... --prefix name
//   --queues Q --n count --window w --size bytes
const path = require('node:path')
const { parseArgs, printJson, onShutdown, watchdog, percentile } = require('./peers/common')

const args = parseArgs(undefined, { impl: 'ours', role: 'producers', url: '', prefix: 'bench', queues: 10, n: 100000, window: 1000, size: 16, warmup: 200 })
watchdog(280000)

let peakRss = 0
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 50)
sampler.unref()
const rssMb = () => Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1048576)

function payload (i) {
  const s = 'm' + i
  return s.length >= args.size ? s : s + '.'.repeat(args.size - s.length)
}
const indexOf = (p) => Number(String(p).slice(1).replace(/\.+$/, ''))
const perQueue = Math.ceil(args.n / args.queues)
const queueName = (k) => `${args.prefix}-${k}`

let goResolve
const goSignal = new Promise((resolve) => { goResolve = resolve })
let producerDone = false
process.stdin.on('data', (d) => {
  if (String(d).includes('go')) goResolve()
  if (String(d).includes('producer-done')) producerDone = true
})

/** A busmq-API bus (ours or busmq's) that is online. */
function busmqBus () {
  const Bus = args.impl === 'ours' ? require(path.join(__dirname, '..', 'busmq')) : require('busmq')
  const bus = Bus.create({ redis: [args.url] })
  bus.on('error', (e) => { printJson({ event: 'error', error: String(e) }); process.exit(2) })
  return new Promise((resolve) => {
    bus.once('online', () => resolve(bus))
    bus.connect()
  })
}

function attached (bus, name) {
  const q = bus.queue(name)
  return new Promise((resolve) => {
    q.once('attached', () => resolve(q))
    q.attach({ ttl: 600 })
  })
}

/** Pushes n messages with at most `window` pending; resolves when all are acknowledged. */
function pushAll (push, n, window) {
  return new Promise((resolve, reject) => {
    let sent = 0
    let acked = 0
    const more = () => {
      while (sent < n && sent - acked < window) {
        push(sent++).then(() => {
          if (++acked === n) resolve()
          else more()
        }, reject)
      }
    }
    if (n === 0) resolve()
    else more()
  })
}

/** Counts distinct messages per queue; `finish` once all arrived or the producers went idle. */
function tally (finishWith) {
  const seen = Array.from({ length: args.queues }, () => new Uint8Array(perQueue))
  let distinct = 0
  let last = Date.now()
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    clearInterval(idle)
    printJson({ event: 'result', done: last, received: distinct, lost: perQueue * args.queues - distinct, rss_mb: rssMb() })
    finishWith()
  }
  const idle = setInterval(() => { if (producerDone && Date.now() - last > 10000) finish() }, 500)
  return {
    got (k, m) {
      last = Date.now()
      const i = indexOf(m)
      if (i >= 0 && i < perQueue && !seen[k][i]) { seen[k][i] = 1; distinct++ }
      if (distinct === perQueue * args.queues) setImmediate(finish)
    }
  }
}

async function busmqProducers () {
  const buses = await Promise.all(Array.from({ length: args.queues }, busmqBus))
  const queues = await Promise.all(buses.map((b, k) => attached(b, queueName(k))))
  printJson({ event: 'ready' })
  await goSignal
  const start = Date.now()
  await Promise.all(queues.map((q) => pushAll((i) => new Promise((resolve, reject) =>
    q.push(payload(i), (err) => (err ? reject(err) : resolve()))), perQueue, args.window)))
  printJson({ event: 'result', start, pushed_ms: Date.now() - start, rss_mb: rssMb() })
  for (const b of buses) b.disconnect()
}

async function busmqConsumers () {
  const buses = await Promise.all(Array.from({ length: args.queues }, busmqBus))
  const queues = await Promise.all(buses.map((b, k) => attached(b, queueName(k))))
  const t = tally(() => { for (const b of buses) b.disconnect() })
  await Promise.all(queues.map((q, k) => new Promise((resolve) => {
    q.on('message', (m) => t.got(k, m))
    q.once('consuming', resolve)
    q.consume()
  })))
  printJson({ event: 'ready' })
}

function bullConnection () {
  const u = new URL(args.url)
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null }
}

async function bullProducers () {
  const { Queue } = require('bullmq')
  const queues = Array.from({ length: args.queues }, (_, k) => new Queue(queueName(k), { connection: bullConnection() }))
  await Promise.all(queues.map((q) => q.waitUntilReady()))
  printJson({ event: 'ready' })
  await goSignal
  const start = Date.now()
  await Promise.all(queues.map(async (queue) => {
    // BullMQ's fastest producer path: addBulk, `window` jobs per call.
    for (let i = 0; i < perQueue; i += args.window) {
      const jobs = []
      for (let j = i; j < Math.min(perQueue, i + args.window); j++) jobs.push({ name: 'm', data: payload(j), opts: { removeOnComplete: true, removeOnFail: true } })
      await queue.addBulk(jobs)
    }
  }))
  printJson({ event: 'result', start, pushed_ms: Date.now() - start, rss_mb: rssMb() })
  await Promise.all(queues.map((q) => q.close()))
}

async function bullConsumers () {
  const { Worker } = require('bullmq')
  const workers = []
  const t = tally(() => { for (const w of workers) w.close() })
  for (let k = 0; k < args.queues; k++) {
    workers.push(new Worker(queueName(k), async (job) => t.got(k, job.data),
      { connection: bullConnection(), concurrency: 100, autorun: false }))
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()))
  for (const w of workers) w.run()
  printJson({ event: 'ready' })
}

/** One message in flight: a channel end sends, the other echoes; round-trip µs per message. */
async function channelRoundTrip () {
  const [a, b] = [await busmqBus(), await busmqBus()]
  const name = `${args.prefix}-ch`
  const near = a.channel(name, 'near', 'far')
  const far = b.channel(name, 'far', 'near')
  far.on('message', (m) => far.send(m))
  let waiting = null
  near.on('message', () => { const w = waiting; waiting = null; if (w) w() })
  const bothUp = Promise.all([
    new Promise((resolve) => near.once('remote:connect', resolve)),
    new Promise((resolve) => far.once('remote:connect', resolve))
  ])
  near.connect()
  far.connect()
  await bothUp
  const samples = []
  for (let i = 0; i < args.warmup + args.n; i++) {
    const t0 = process.hrtime.bigint()
    await new Promise((resolve) => { waiting = resolve; near.send(payload(i)) })
    if (i >= args.warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  samples.sort((x, y) => x - y)
  printJson({ event: 'result', n: samples.length, p50_us: Math.round(percentile(samples, 50)), p99_us: Math.round(percentile(samples, 99)), rss_mb: rssMb() })
  near.end()
  a.disconnect()
  b.disconnect()
}

const roles = {
  ours: { producers: busmqProducers, consumers: busmqConsumers, channel: channelRoundTrip },
  busmq: { producers: busmqProducers, consumers: busmqConsumers, channel: channelRoundTrip },
  bullmq: { producers: bullProducers, consumers: bullConsumers }
}
onShutdown(() => {})
const role = roles[args.impl][args.role]
if (!role) {
  printJson({ event: 'error', error: `${args.impl} has no role ${args.role}` })
  process.exit(2)
}
role().catch((err) => {
  printJson({ event: 'error', error: String(err && err.stack ? err.stack : err) })
  process.exit(2)
})

'use strict'
// One process of `npm run bench:busmq`: a producer, a consumer, or a latency probe on one queue,
// with ours (zmqbus/busmq), busmq 3.1 or BullMQ. Prints JSON lines: `ready`, then `result`
// (or `error`). The payload of message i is 'm<i>' padded to --size bytes.
//   --impl ours|busmq|bullmq --role producer|consumer|latency --url redis://... --queue name
//   --n count --window callbacks in flight (producer) --size bytes
const path = require('node:path')
const { parseArgs, printJson, onShutdown, watchdog, percentile } = require('./common')

const args = parseArgs(undefined, { impl: 'ours', role: 'producer', url: '', queue: 'bench', n: 100000, window: 1000, size: 16, warmup: 200 })
watchdog(args.role === 'latency' ? 120000 : 280000)

let peakRss = 0
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 50)
sampler.unref()
const rssMb = () => Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1048576)

function payload (i) {
  const s = 'm' + i
  return s.length >= args.size ? s : s + '.'.repeat(args.size - s.length)
}
const indexOf = (p) => Number(String(p).slice(1).replace(/\.+$/, ''))

/** A busmq-API bus (ours or busmq's) that is online. */
function busmqBus () {
  const Bus = args.impl === 'ours' ? require(path.join(__dirname, '..', '..', 'busmq')) : require('busmq')
  const bus = Bus.create({ redis: [args.url] })
  bus.on('error', (e) => { printJson({ event: 'error', error: String(e) }); process.exit(2) })
  return new Promise((resolve) => {
    bus.once('online', () => resolve(bus))
    bus.connect()
  })
}

function attached (bus) {
  const q = bus.queue(args.queue)
  return new Promise((resolve) => {
    q.once('attached', () => resolve(q))
    q.attach({ ttl: 600 })
  })
}

/** Pushes n messages with at most `window` callbacks pending; resolves when all are acknowledged. */
function pushAll (push, n, window) {
  return new Promise((resolve, reject) => {
    let sent = 0
    let acked = 0
    const more = () => {
      while (sent < n && sent - acked < window) {
        const i = sent++
        push(i).then(() => {
          if (++acked === n) resolve()
          else more()
        }, reject)
      }
    }
    more()
  })
}

async function busmqProducer () {
  const bus = await busmqBus()
  const q = await attached(bus)
  printJson({ event: 'ready' })
  await go()
  const start = Date.now()
  await pushAll((i) => new Promise((resolve, reject) => q.push(payload(i), (err) => (err ? reject(err) : resolve()))), args.n, args.window)
  printJson({ event: 'result', start, pushed_ms: Date.now() - start, rss_mb: rssMb() })
  q.detach()
  bus.disconnect()
}

async function busmqConsumer () {
  const bus = await busmqBus()
  const q = await attached(bus)
  const seen = new Uint8Array(args.n)
  let distinct = 0
  let last = Date.now()
  q.on('message', (m) => {
    last = Date.now()
    const i = indexOf(m)
    if (i >= 0 && i < args.n && !seen[i]) { seen[i] = 1; distinct++ }
    if (distinct === args.n) finish()
  })
  q.once('consuming', () => printJson({ event: 'ready' }))
  q.consume()
  let finished = false
  function finish () {
    if (finished) return
    finished = true
    printJson({ event: 'result', done: last, received: distinct, lost: args.n - distinct, rss_mb: rssMb() })
    q.detach()
    bus.disconnect()
  }
  idleStop(() => last, finish)
}

/** Ends a consumer that has had nothing for 10 s after the producer finished (counts what is lost). */
function idleStop (lastAt, finish) {
  process.stdin.on('data', (d) => {
    if (!String(d).includes('producer-done')) return
    const t = setInterval(() => { if (Date.now() - lastAt() > 10000) { clearInterval(t); finish() } }, 500)
  })
}

let goResolve
const goSignal = new Promise((resolve) => { goResolve = resolve })
process.stdin.on('data', (d) => { if (String(d).includes('go')) goResolve() })
const go = () => goSignal

async function busmqLatency () {
  const [pb, cb] = [await busmqBus(), await busmqBus()]
  const [producer, consumer] = [await attached(pb), await attached(cb)]
  let waiting = null
  consumer.on('message', () => { const w = waiting; waiting = null; if (w) w() })
  await new Promise((resolve) => { consumer.once('consuming', resolve); consumer.consume() })
  const samples = await probe((i) => new Promise((resolve) => { waiting = resolve; producer.push(payload(i)) }))
  report(samples)
  pb.disconnect()
  cb.disconnect()
}

/** One message in flight at a time: push-to-message time of each, in µs, after a warmup. */
async function probe (once) {
  const samples = []
  for (let i = 0; i < args.warmup + args.n; i++) {
    const t0 = process.hrtime.bigint()
    await once(i)
    if (i >= args.warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  return samples.sort((a, b) => a - b)
}

function report (samples) {
  printJson({ event: 'result', n: samples.length, p50_us: Math.round(percentile(samples, 50)), p99_us: Math.round(percentile(samples, 99)), rss_mb: rssMb() })
}

function bullConnection () {
  const u = new URL(args.url)
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null }
}

async function bullProducer () {
  const { Queue } = require('bullmq')
  const queue = new Queue(args.queue, { connection: bullConnection() })
  await queue.waitUntilReady()
  printJson({ event: 'ready' })
  await go()
  const start = Date.now()
  // BullMQ's fastest producer path: addBulk, `window` jobs per call.
  for (let i = 0; i < args.n; i += args.window) {
    const jobs = []
    for (let j = i; j < Math.min(args.n, i + args.window); j++) jobs.push({ name: 'm', data: payload(j), opts: { removeOnComplete: true, removeOnFail: true } })
    await queue.addBulk(jobs)
  }
  printJson({ event: 'result', start, pushed_ms: Date.now() - start, rss_mb: rssMb() })
  await queue.close()
}

async function bullConsumer () {
  const { Worker } = require('bullmq')
  const seen = new Uint8Array(args.n)
  let distinct = 0
  let last = Date.now()
  let finished = false
  let worker = null
  const finish = () => {
    if (finished) return
    finished = true
    printJson({ event: 'result', done: last, received: distinct, lost: args.n - distinct, rss_mb: rssMb() })
    worker.close()
  }
  worker = new Worker(args.queue, async (job) => {
    last = Date.now()
    const i = indexOf(job.data)
    if (i >= 0 && i < args.n && !seen[i]) { seen[i] = 1; distinct++ }
    if (distinct === args.n) setImmediate(finish)
  }, { connection: bullConnection(), concurrency: 100, autorun: false })
  await worker.waitUntilReady()
  worker.run()
  printJson({ event: 'ready' })
  idleStop(() => last, finish)
}

async function bullLatency () {
  const { Queue, Worker } = require('bullmq')
  const queue = new Queue(args.queue, { connection: bullConnection() })
  let waiting = null
  const worker = new Worker(args.queue, async () => { const w = waiting; waiting = null; if (w) w() }, { connection: bullConnection(), concurrency: 1 })
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()])
  const samples = await probe((i) => new Promise((resolve) => {
    waiting = resolve
    queue.add('m', payload(i), { removeOnComplete: true })
  }))
  report(samples)
  await worker.close()
  await queue.close()
}

const roles = {
  ours: { producer: busmqProducer, consumer: busmqConsumer, latency: busmqLatency },
  busmq: { producer: busmqProducer, consumer: busmqConsumer, latency: busmqLatency },
  bullmq: { producer: bullProducer, consumer: bullConsumer, latency: bullLatency }
}
onShutdown(() => {})
roles[args.impl][args.role]().catch((err) => {
  printJson({ event: 'error', error: String(err && err.stack ? err.stack : err) })
  process.exit(2)
})

'use strict'
// `npm run demo:busmq`: a busmq queue and a channel on Redis, through zmqbus/busmq.
// Uses REDIS_URL when set; else starts a private redis-server on a free 127.0.0.1 port (when
// one is on PATH) and stops it at the end; else says how to get one.
const { spawn, spawnSync } = require('node:child_process')
const net = require('node:net')
const Bus = require('../busmq')

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

/** A redis-server of our own: resolves `{ url, stop }` once it accepts connections (10 s at most). */
async function localRedis () {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10000)
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (/Ready to accept connections/.test(out)) { clearTimeout(timer); resolve() }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}`)) })
  })
  child.stdout.resume()
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') }
}

function onRedis (url) {
  return new Promise((resolve, reject) => {
    const bus = Bus.create({ redis: [url] })
    bus.once('error', reject)
    bus.once('online', () => resolve(bus))
    bus.connect()
  })
}

/** A queue: the producer pushes three messages (a string, an object, a number), the consumer reads them. */
async function queueDemo (producerBus, consumerBus) {
  const producer = producerBus.queue('demo-jobs')
  const consumer = consumerBus.queue('demo-jobs')
  await new Promise((resolve) => { producer.once('attached', resolve); producer.attach() })
  await new Promise((resolve) => { consumer.once('attached', resolve); consumer.attach() })
  const got = new Promise((resolve) => {
    let n = 0
    consumer.on('message', (message, id) => {
      console.log(`queue: message ${id}: ${message}`)
      if (++n === 3) resolve()
    })
  })
  consumer.consume()
  for (const m of ['hello', { task: 'resize', width: 640 }, 42]) producer.push(m)
  await got
  consumer.detach()
  producer.detach()
}

/** A channel: a server end and a client end say hello to each other, then the client ends it. */
async function channelDemo (serverBus, clientBus) {
  const server = serverBus.channel('demo-chat')
  const client = clientBus.channel('demo-chat')
  const ended = new Promise((resolve) => server.once('end', resolve))
  server.on('message', (m) => {
    console.log(`channel: server got "${m}"`)
    server.send('hi client')
  })
  client.on('remote:connect', () => client.send('hi server'))
  client.on('message', (m) => {
    console.log(`channel: client got "${m}"`)
    client.end()
  })
  server.listen()
  client.connect()
  await ended
  console.log('channel: ended by the client')
}

async function main () {
  let redis = null
  let url = process.env.REDIS_URL
  if (!url) {
    if (spawnSync('redis-server', ['--version']).error) {
      console.log('This demo needs Redis. Either set REDIS_URL=redis://host:port, or install redis-server')
      console.log('(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis; or run')
      console.log('`docker run -p 6379:6379 redis` and set REDIS_URL=redis://127.0.0.1:6379).')
      process.exitCode = 1
      return
    }
    redis = await localRedis()
    url = redis.url
    console.log(`started a private redis-server at ${url}`)
  }
  const [a, b] = [await onRedis(url), await onRedis(url)]
  try {
    await queueDemo(a, b)
    await channelDemo(a, b)
  } finally {
    a.disconnect()
    b.disconnect()
    if (redis) setTimeout(() => redis.stop(), 100)
  }
  console.log('demo done')
}

main().catch((err) => {
  console.error('demo failed:', err.code || '', err.message || err)
  process.exitCode = 1
})

'use strict'
// Bad input and failures reach 'error' listeners as Errors with a code; nothing crashes.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Bus = require('../busmq')
const { startRedis, redisCli, online, call, captureEvent, uniqName } = require('./busmq-helpers')
const { freePort } = require('./helpers')

let redis
const buses = []
before(async () => { redis = await startRedis() })
after(async () => {
  for (const bus of buses) bus.disconnect()
  await redis.stop()
})

function bus (opts) {
  const b = Bus.create(opts)
  buses.push(b)
  return b
}

test('a bad url is an error with code EINVAL, and the bus can still connect afterwards', async () => {
  const b = bus()
  const err = captureEvent(b, 'error')
  b.connect('http://127.0.0.1:1')
  const [e] = await err
  assert.equal(e.code, 'EINVAL')
  assert.match(e.message, /scheme/)
  for (const url of ['redis://', 'redis://h:99999', 'redis://h/notadb']) {
    const again = captureEvent(b, 'error')
    b.connect(url)
    assert.equal((await again)[0].code, 'EINVAL')
  }
  const ok = online(b)
  b.connect(redis.url)
  await ok
})

test('urls that are not strings and unknown layouts are errors with codes', async () => {
  const b = bus()
  let err = captureEvent(b, 'error')
  b.connect([42])
  assert.equal((await err)[0].code, 'ERR_INVALID_ARG_TYPE')
  err = captureEvent(b, 'error')
  b.connect([redis.url, 'redis://h:0'])
  assert.equal((await err)[0].code, 'EINVAL')
  const c = bus({ redis: redis.url, layout: 'weird' })
  err = captureEvent(c, 'error')
  c.connect()
  const [e] = await err
  assert.equal(e.code, 'ENOTSUP')
  assert.equal(e.message, 'unsupported connection layout: weird')
})

test('redis down: one ECONNREFUSED error, then online once a server appears on that port', async () => {
  const port = await freePort()
  const b = bus({ redis: `redis://127.0.0.1:${port}` })
  const errors = []
  b.on('error', (e) => errors.push(e))
  const q = b.queue(uniqName('late'))
  q.attach()
  const id = call((cb) => q.push('waited', cb), 15000)
  b.connect()
  const { waitFor } = require('./helpers')
  await waitFor(() => errors.length > 0, 5000, 20, 'connection error')
  assert.equal(errors[0].code, 'ECONNREFUSED')
  assert.equal(b.isOnline(), false)
  // A server on that port: the retry (every second) finds it and the push goes through.
  const { spawn } = require('node:child_process')
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  let offline
  try {
    await captureEvent(b, 'online', 8000)
    assert.equal(await id, 1)
    assert.equal(errors.length, 1, 'one error per outage, not one per retry')
    offline = captureEvent(b, 'offline', 5000)
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    process.kill(child.pid, 'SIGTERM')
    await exited
  }
  await offline
  assert.equal(b.isOnline(), false)
})

test('queue names, messages, options and callbacks of the wrong type throw TypeErrors with a code', async () => {
  const b = bus()
  for (const name of [undefined, null, 42, {}, '']) {
    assert.throws(() => b.queue(name), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  }
  const q = b.queue('fine')
  assert.throws(() => q.push(undefined), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => q.push('x', 'not a function'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => q.attach({ ttl: -1 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => q.attach({ maxsize: 1.5 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => b.channel(42), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => b.channel('c', 7), { code: 'ERR_INVALID_ARG_TYPE' })
  for (const name of [undefined, 42, '']) {
    assert.throws(() => b.pubsub(name), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => b.service(name), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => b.persistify(name, {}, []), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  assert.throws(() => b.persistify('p', null, []), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => b.persistify('p', {}, 'v'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => b.persistify('p', {}, ['v']).persist(0), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => b.pubsub('c').publish('x', 'not a function'), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('a Redis error (WRONGTYPE) reaches the queue listener with its code, and the queue goes on', async () => {
  const b = bus({ redis: redis.url })
  const up = online(b)
  b.connect()
  await up
  const name = uniqName('wrong')
  const q = b.queue(name)
  const ready = captureEvent(q, 'attached')
  q.attach()
  await ready
  await redisCli(redis.port, 'SET', `bus:queue:${name}:messages`, 'not a list')
  const err = captureEvent(q, 'error')
  q.push('x')
  const [e] = await err
  assert.equal(e.code, 'WRONGTYPE')
  assert.match(e.message, /^error pushing to queue \(push\): /)
  await assert.rejects(call((cb) => q.push('y', cb)), { code: 'WRONGTYPE' })
  await redisCli(redis.port, 'DEL', `bus:queue:${name}:messages`)
  assert.equal(await call((cb) => q.push('z', cb)), 3)
})

test('an error without a queue listener goes to the bus listener instead of killing the process', async () => {
  const b = bus({ redis: redis.url })
  const up = online(b)
  b.connect()
  await up
  const q = b.queue(uniqName('nolistener'))
  const err = captureEvent(b, 'error')
  q.close()
  const [e] = await err
  assert.equal(e.code, 'ENOTCONN')
})

test('a wrong password is an error with a code and no online; the right one connects', async () => {
  const { spawn } = require('node:child_process')
  const { waitFor } = require('./helpers')
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--requirepass', 's3cret'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let log = ''
  child.stdout.on('data', (d) => { log += d })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await waitFor(() => /Ready to accept/.test(log), 10000, 20, 'redis-server ready')
    const wrong = bus({ redis: `redis://wrong@127.0.0.1:${port}` })
    const wentOnline = []
    wrong.on('online', () => wentOnline.push(1))
    const err = captureEvent(wrong, 'error', 5000)
    wrong.connect()
    const [e] = await err
    assert.match(e.code, /^(WRONGPASS|EAUTH|NOAUTH)$/)
    wrong.disconnect()
    assert.equal(wentOnline.length, 0)
    const right = bus({ redis: `redis://s3cret@127.0.0.1:${port}` }) // busmq's form: a lone password
    const up = online(right)
    right.connect()
    await up
    right.disconnect()
  } finally {
    process.kill(child.pid, 'SIGTERM')
    await exited
  }
})

test('a hostile server (huge announced lengths, garbage) gives errors with codes; memory stays flat', async () => {
  const net = require('node:net')
  const replies = ['*4611686018427387904\r\n', '$4611686018427387904\r\n', '%2305843009213693952\r\n', '?garbage\r\n']
  const codes = []
  const rssBefore = process.memoryUsage().rss
  for (const reply of replies) {
    const sockets = new Set()
    const server = net.createServer((s) => {
      sockets.add(s)
      s.on('data', () => s.write(reply))
      s.on('error', () => {})
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const b = bus({ redis: `redis://127.0.0.1:${server.address().port}` })
    const err = captureEvent(b, 'error', 10000)
    b.connect()
    const [e] = await err
    codes.push(e.code)
    assert.equal(b.isOnline(), false)
    b.disconnect()
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
  assert.deepEqual(codes, ['ETIMEDOUT', 'ETIMEDOUT', 'ETIMEDOUT', 'EPROTO'])
  assert.ok(process.memoryUsage().rss - rssBefore < 50e6, 'no allocation of the announced sizes')
})

test('a message over the size limit is refused with E2BIG before it reaches Redis; the queue goes on', async () => {
  const b = bus({ redis: redis.url, maxMessageSize: 1000 })
  const up = online(b)
  b.connect()
  await up
  const q = b.queue(uniqName('big'))
  const ready = captureEvent(q, 'attached')
  q.attach()
  await ready
  await assert.rejects(call((cb) => q.push('x'.repeat(1001), cb)), { code: 'E2BIG' })
  const err = captureEvent(q, 'error')
  q.push(Buffer.alloc(2000))
  assert.equal((await err)[0].code, 'E2BIG')
  assert.equal(await call((cb) => q.push('x'.repeat(1000), cb)), 1)
  assert.equal(q.pushed(), 1)
})

test('a burst of large messages (40 x 1 MB) goes through in byte-bounded batches', async () => {
  const b = bus({ redis: redis.url })
  const up = online(b)
  b.connect()
  await up
  const q = b.queue(uniqName('burst'))
  const ready = captureEvent(q, 'attached')
  q.attach()
  await ready
  const payload = 'y'.repeat(1 << 20)
  const ids = []
  for (let i = 0; i < 40; i++) ids.push(call((cb) => q.push(payload, cb), 10000))
  assert.deepEqual(await Promise.all(ids), Array.from({ length: 40 }, (_, i) => i + 1))
  q.flush()
})

test('disconnect() while redis is down: waiting callbacks get ECANCELED instead of hanging', async () => {
  const port = await freePort()
  const b = bus({ redis: `redis://127.0.0.1:${port}` })
  const err = captureEvent(b, 'error')
  const q = b.queue(uniqName('never'))
  q.attach()
  const pushed = call((cb) => q.push('x', cb), 5000)
  const counted = call((cb) => q.count(cb), 5000)
  b.connect()
  await err
  b.disconnect()
  await assert.rejects(pushed, { code: 'ECANCELED' })
  await assert.rejects(counted, { code: 'ECANCELED' })
})

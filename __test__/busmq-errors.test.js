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

test('urls that are not strings, several urls and unknown layouts are errors with codes', async () => {
  const b = bus()
  let err = captureEvent(b, 'error')
  b.connect([42])
  assert.equal((await err)[0].code, 'ERR_INVALID_ARG_TYPE')
  err = captureEvent(b, 'error')
  b.connect([redis.url, redis.url])
  assert.equal((await err)[0].code, 'ENOTSUP')
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
  assert.throws(() => b.pubsub('c'), { code: 'ENOTSUP' })
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

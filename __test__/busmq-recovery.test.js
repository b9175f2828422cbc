'use strict'
// Redis goes away and comes back: offline, online again, consumers resubscribed, calls made in
// between run once it is back.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const Bus = require('../busmq')
const { online, call, captureEvent, waitFor, uniqName } = require('./busmq-helpers')
const { freePort } = require('./helpers')

function redisOn (port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] })
  let log = ''
  child.stdout.on('data', (d) => { log += d })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    pid: child.pid,
    ready: waitFor(() => /Ready to accept/.test(log), 10000, 20, 'redis-server ready'),
    async stop () {
      process.kill(child.pid, 'SIGTERM')
      await exited
    }
  }
}

test('a restart of redis: offline, online again, the consumer resumes and calls made meanwhile complete', async () => {
  const port = await freePort()
  let server = redisOn(port)
  await server.ready
  const bus = Bus.create({ redis: `redis://127.0.0.1:${port}` })
  const busErrors = []
  bus.on('error', (e) => busErrors.push(e))
  try {
    const up = online(bus)
    bus.connect()
    await up
    const q = bus.queue(uniqName('restart'))
    const queueErrors = []
    q.on('error', (e) => queueErrors.push(e))
    const got = []
    q.on('message', (m) => got.push(m))
    const attached = captureEvent(q, 'attached')
    q.attach()
    await attached
    q.consume()
    q.push('before')
    await waitFor(() => got.length === 1, 3000, 10, 'first message')

    const down = captureEvent(bus, 'offline', 5000)
    await server.stop()
    await down
    assert.equal(bus.isOnline(), false)
    const during = call((cb) => q.push('during', cb), 15000)

    const back = captureEvent(bus, 'online', 10000)
    server = redisOn(port)
    await server.ready
    await back
    assert.equal(bus.isOnline(), true)
    assert.equal(typeof (await during), 'number')
    q.push('after')
    await waitFor(() => got.includes('during') && got.includes('after'), 5000, 10, 'messages after the restart')
    assert.deepEqual(got, ['before', 'during', 'after'])
    for (const e of [...busErrors, ...queueErrors]) assert.equal(typeof e.code, 'string')
  } finally {
    bus.disconnect()
    await server.stop()
  }
})

test('a hung redis (SIGSTOP) is noticed by the liveness PING: offline within seconds, online after SIGCONT', async () => {
  const port = await freePort()
  const server = redisOn(port)
  await server.ready
  const bus = Bus.create({ redis: `redis://127.0.0.1:${port}` })
  bus.on('error', () => {}) // reconnect attempts time out while the server is stopped
  let stopped = false
  try {
    const up = online(bus)
    bus.connect()
    await up
    const q = bus.queue(uniqName('stall'))
    q.on('error', () => {})
    const got = []
    q.on('message', (m) => got.push(m))
    const attached = captureEvent(q, 'attached')
    q.attach()
    await attached
    q.consume()
    q.push('a')
    await waitFor(() => got.length === 1, 3000, 10, 'first message')
    const down = captureEvent(bus, 'offline', 10000)
    const t0 = Date.now()
    process.kill(server.pid, 'SIGSTOP')
    stopped = true
    await down
    const noticedMs = Date.now() - t0
    assert.ok(noticedMs >= 4000 && noticedMs < 9000, `offline after ${noticedMs} ms`)
    const back = captureEvent(bus, 'online', 15000)
    process.kill(server.pid, 'SIGCONT')
    stopped = false
    await back
    q.push('b')
    await waitFor(() => got.includes('b'), 5000, 10, 'message after the stall')
    assert.deepEqual(got, ['a', 'b'])
  } finally {
    if (stopped) process.kill(server.pid, 'SIGCONT')
    bus.disconnect()
    await server.stop()
  }
})

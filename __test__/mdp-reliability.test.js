'use strict'
// Failure handling of the pigato engine: broker restarts, hostile frames, deep queues.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const zmq = require('zeromq/v5-compat')
const { Broker, Worker, Client } = require('..')
const { uniqAddress, spawnNode, withTimeout, waitFor, delay } = require('./helpers')

const BROKER = path.join(__dirname, 'fixtures', 'mdp-broker.js')

test('worker and client recover when the broker process is killed and restarted', async () => {
  const addr = await uniqAddress('tcp')
  let proc = spawnNode(BROKER, [addr, 100])
  await proc.waitJson((m) => m.event === 'started', 5000)
  const worker = new Worker(addr, 'survivor', { heartbeat: 100, reconnect: 50 })
  worker.on('request', (d, reply) => reply.end('ok:' + d))
  const client = new Client(addr, { heartbeat: 100, reconnect: 50 })
  const disconnects = { worker: 0, client: 0 }
  worker.on('disconnect', () => disconnects.worker++)
  client.on('disconnect', () => disconnects.client++)
  worker.start()
  client.start()
  try {
    assert.equal(await client.call('survivor', 1, { timeout: 3000 }), 'ok:1')
    await proc.kill('SIGKILL')
    await waitFor(() => disconnects.worker > 0 && disconnects.client > 0, 3000, 10, 'liveness loss')
    proc = spawnNode(BROKER, [addr, 100])
    await proc.waitJson((m) => m.event === 'started', 5000)
    // New sessions (new identities) register again; a request then gets through.
    const answer = await withTimeout((async () => {
      for (;;) {
        try { return await client.call('survivor', 2, { timeout: 400 }) } catch (e) { if (e.code !== 'C_TIMEOUT') throw e }
      }
    })(), 8000, 'request after broker restart')
    assert.equal(answer, 'ok:2')
  } finally {
    client.stop()
    worker.stop()
    await proc.kill('SIGTERM')
  }
})

test('malformed frames from a libzmq peer are counted and never stop the broker', async () => {
  const addr = await uniqAddress('tcp')
  const broker = new Broker(addr, { heartbeat: 200, intch: false })
  const errors = []
  broker.on('error', (e) => errors.push(e))
  await new Promise((resolve) => broker.start(resolve))
  const worker = new Worker(addr, 'sane', { heartbeat: 200 })
  worker.on('request', (d, reply) => reply.end(d))
  worker.start()
  const rogue = zmq.socket('dealer')
  rogue.connect(addr)
  const client = new Client(addr, { heartbeat: 200 })
  client.start()
  try {
    const junk = [
      ['X'], ['C'], ['W'], ['C', '9'], ['W', '9'], ['C', '2'], ['C', '2', 'sane'],
      ['C', '2', 'sane', 'rid-1', '{bad json', '{also bad'],
      ['W', '3', 'nobody', '', 'rid-x', '0', '1', '{}'],
      ['W', '4', '', '{"concurrency":"lots"}'],
      ['C', '4', 'request'], ['C', '4', 'worker', 'no-such-worker'],
      [Buffer.alloc(0)], ['C', '2', 'sane', 'rid-big', Buffer.alloc(4 << 20, 0x61), '{}']
    ]
    for (const frames of junk) rogue.send(frames)
    await delay(200)
    assert.equal(await withTimeout(client.call('sane', 'still fine', { timeout: 3000 }), 4000, 'request after junk'), 'still fine')
    // stats() is a snapshot refreshed every 100 ms by the broker loop.
    const stats = await waitFor(() => { const s = broker.stats(); return s.replies >= 1 && s }, 2000, 20, 'stats')
    assert.ok(stats.droppedMalformed + stats.droppedProtocol >= 5, JSON.stringify(stats))
    assert.equal(stats.workers, 1)
  } finally {
    rogue.close()
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

test('a client gets protocol errors as error events (or counts them) and keeps working', async () => {
  const addr = await uniqAddress('tcp')
  const fake = zmq.socket('router')
  fake.bindSync(addr)
  const client = new Client(addr, { heartbeat: 200 })
  const errors = []
  client.on('error', (e) => errors.push(e))
  client.start()
  const [id] = await new Promise((resolve) => fake.once('message', (...f) => resolve(f)))
  fake.send([id, 'X', '3'])
  fake.send([id, 'C', '3', '', 'unknown-rid', '0', '1'])
  fake.send([id, 'C', '9'])
  fake.send([id, 'C'])
  try {
    await waitFor(() => errors.length >= 3, 2000, 10, 'protocol errors')
    assert.ok(errors.includes('ERR_MSG_HEADER'), String(errors))
    assert.ok(errors.includes('ERR_REQ_INVALID'), String(errors))
    assert.ok(errors.includes('ERR_MSG_TYPE') || errors.includes('ERR_MSG_LENGTH'), String(errors))
  } finally {
    client.stop()
    fake.close()
  }
})

test('20,000 requests through a worker with concurrency 8 are all answered exactly once', async () => {
  const addr = await uniqAddress('tcp')
  const broker = new Broker(addr, { heartbeat: 500, intch: false })
  await new Promise((resolve) => broker.start(resolve))
  const worker = new Worker(addr, 'slow', { heartbeat: 500, concurrency: 8 })
  let served = 0
  worker.on('request', (d, reply) => { served++; setImmediate(() => reply.end(d)) })
  worker.start()
  const client = new Client(addr, { heartbeat: 500 })
  client.start()
  try {
    const n = 20000
    const seen = new Uint8Array(n)
    await withTimeout(Promise.all(Array.from({ length: n }, (_, i) =>
      client.call('slow', i, { timeout: 30000 }).then((v) => { seen[v]++ }))), 30000, '20k requests')
    assert.equal(seen.reduce((a, b) => a + b, 0), n)
    assert.ok(seen.every((c) => c === 1))
    assert.equal(served, n)
  } finally {
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

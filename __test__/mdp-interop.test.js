'use strict'
// Wire interop with the original pigato (npm, on libzmq through the zmq shim), both ways:
// our Rust broker serving pigato workers and clients, and pigato's broker serving ours.
const test = require('node:test')
const assert = require('node:assert/strict')
const pigato = require('pigato')
const ours = require('..')
const { uniqAddress, withTimeout } = require('./helpers')

function callPigato (client, service, data, opts) {
  return new Promise((resolve, reject) => {
    const got = []
    client.request(service, data, opts)
      .on('data', (d) => got.push(d)).on('error', reject).on('end', () => resolve(got))
  })
}

function echoWorker (w) {
  w.on('request', (data, reply, opts) => {
    reply.write({ partial: data })
    reply.end({ final: data, opts })
  })
  return w
}

test('our broker serves pigato workers and clients', async () => {
  const addr = await uniqAddress('tcp')
  const broker = new ours.Broker(addr, { heartbeat: 300, intch: false })
  await new Promise((resolve) => broker.start(resolve))
  const worker = echoWorker(new pigato.Worker(addr, 'interop', { heartbeat: 300 }))
  const client = new pigato.Client(addr, { heartbeat: 300 })
  worker.start()
  client.start()
  try {
    const got = await withTimeout(callPigato(client, 'interop', { n: 1 }, { timeout: 3000, custom: 'x' }), 4000, 'request')
    assert.deepEqual(got[0], { partial: { n: 1 } })
    assert.deepEqual(got[1].final, { n: 1 })
    assert.equal(got[1].opts.custom, 'x')
    assert.equal(got[1].opts.timeout, 3000)
  } finally {
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

test('pigato broker serves our workers and clients (streams, callbacks, errors, concurrency)', async () => {
  const addr = await uniqAddress('tcp')
  const broker = new pigato.Broker(addr, { heartbeat: 300, intch: await uniqAddress('tcp') })
  await new Promise((resolve) => { broker.conf.onStart = resolve; broker.start() })
  const worker = echoWorker(new ours.Worker(addr, 'interop', { heartbeat: 300, concurrency: 2 }))
  const failing = new ours.Worker(addr, 'fails', { heartbeat: 300 })
  failing.on('request', (d, reply) => reply.error('E_NOPE'))
  const client = new ours.Client(addr, { heartbeat: 300 })
  worker.start(); failing.start(); client.start()
  try {
    const got = await withTimeout(callPigato(client, 'interop', 'a', { timeout: 3000 }), 4000, 'stream request')
    assert.deepEqual(got[0], { partial: 'a' })
    assert.equal(got[1].final, 'a')
    const finals = await withTimeout(Promise.all([1, 2, 3, 4, 5].map((i) => client.call('interop', i, { timeout: 3000 }))), 5000, 'calls')
    assert.deepEqual(finals.map((f) => f.final), [1, 2, 3, 4, 5])
    await assert.rejects(client.call('fails', 1, { timeout: 3000 }), { code: 'E_NOPE' })
  } finally {
    client.stop(); worker.stop(); failing.stop()
    await new Promise((resolve) => { broker.conf.onStop = resolve; broker.stop() })
  }
})

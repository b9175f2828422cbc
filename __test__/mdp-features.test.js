'use strict'
// Broker features beyond plain routing: the reply cache (reply.opts.cache / nocache), the
// persistence controller (ctrl.rset / rdel / rgetall), and the standalone broker command.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Broker, Worker, Client } = require('..')
const { uniqAddress, spawnNode, withTimeout, waitFor } = require('./helpers')

async function started (broker) {
  await new Promise((resolve) => broker.start(resolve))
  return broker
}

test('a reply with opts.cache is served from the broker cache until it expires; nocache skips it', async () => {
  const addr = await uniqAddress('tcp')
  const broker = await started(new Broker(addr, { heartbeat: 200, intch: false }))
  const worker = new Worker(addr, 'quote', { heartbeat: 200 })
  let served = 0
  worker.on('request', (sym, reply) => {
    served++
    reply.opts.cache = 300
    reply.end({ sym, n: served })
  })
  const client = new Client(addr, { heartbeat: 200 })
  worker.start(); client.start()
  try {
    const first = await client.call('quote', 'AAPL', { timeout: 2000 })
    const second = await client.call('quote', 'AAPL', { timeout: 2000 })
    assert.deepEqual(first, { sym: 'AAPL', n: 1 })
    assert.deepEqual(second, first, 'identical request answered from cache')
    assert.equal(served, 1)
    const other = await client.call('quote', 'MSFT', { timeout: 2000 })
    assert.equal(other.n, 2, 'different data is not a cache hit')
    const fresh = await client.call('quote', 'AAPL', { timeout: 2000, nocache: true })
    assert.equal(fresh.n, 3, 'nocache goes to a worker')
    await new Promise((resolve) => setTimeout(resolve, 350))
    const expired = await client.call('quote', 'AAPL', { timeout: 2000 })
    assert.equal(expired.n, 4, 'expired entries are not served')
    await waitFor(() => broker.stats().cacheHits >= 1, 1000, 20, 'cache hit counted')
  } finally {
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

test('persist requests go to the controller, are deleted when answered, and are restored at start', async () => {
  const addr = await uniqAddress('tcp')
  const stored = {}
  const calls = []
  const ctrl = {
    rset (req) { calls.push(['set', req.rid]); stored[req.rid] = req },
    rdel (req) { calls.push(['del', req.rid]); delete stored[req.rid] },
    rgetall (cb) { setImmediate(() => cb(null, { ...stored })) }
  }
  let broker = await started(new Broker(addr, { heartbeat: 200, intch: false, ctrl }))
  const client = new Client(addr, { heartbeat: 200 })
  client.start()
  // No worker yet: the request waits in the broker and in the controller.
  const pending = client.call('durable', 'job-1', { timeout: 10000, persist: true })
  await waitFor(() => Object.keys(stored).length === 1, 2000, 10, 'rset')
  const [rid] = Object.keys(stored)
  assert.equal(stored[rid].service, 'durable')
  assert.equal(stored[rid].clientId, client.socketId)
  // The broker restarts; the controller hands the request back; a worker then answers it.
  await new Promise((resolve) => broker.stop(resolve))
  broker = await started(new Broker(addr, { heartbeat: 200, intch: false, ctrl }))
  const worker = new Worker(addr, 'durable', { heartbeat: 200 })
  worker.on('request', (d, reply) => reply.end('done:' + d))
  worker.start()
  try {
    assert.equal(await withTimeout(pending, 8000, 'restored request'), 'done:job-1')
    await waitFor(() => Object.keys(stored).length === 0, 2000, 10, 'rdel')
    assert.ok(calls.some(([op, id]) => op === 'del' && id === rid))
  } finally {
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

test('`zmqbus broker <endpoint>` runs a standalone broker that serves requests', async () => {
  const addr = await uniqAddress('tcp')
  const proc = spawnNode(path.join(__dirname, '..', 'bin', 'zmqbus.js'), ['broker', addr, '--intch', await uniqAddress('tcp')])
  try {
    await proc.waitLine((l) => l.includes('listening'), 5000)
    const worker = new Worker(addr, 'cli', { heartbeat: 200 })
    worker.on('request', (d, reply) => reply.end(d + '!'))
    const client = new Client(addr, { heartbeat: 200 })
    worker.start(); client.start()
    try {
      assert.equal(await client.call('cli', 'hi', { timeout: 3000 }), 'hi!')
    } finally {
      client.stop(); worker.stop()
    }
  } finally {
    const { code } = await proc.kill('SIGTERM')
    assert.ok(code === 0 || code === null)
  }
})

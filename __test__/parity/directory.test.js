'use strict'
// The $dir core service: it follows the broker's internal PUB channel and
// answers the worker ids of a service (or the whole map with no data).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress, waitFor, delay } = require('../helpers')
const { createHarness, callback } = require('./harness')

describe('$dir Directory service', () => {
  const h = createHarness()
  let addr
  let client
  const echoWorkers = []

  const dir = async (name) => {
    const res = await callback(client, '$dir', name, { timeout: 1000 }, 1500)
    return res.err ? undefined : res.data
  }

  before(async () => {
    addr = await uniqAddress('tcp')
    // The Directory's own worker uses pigato's default heartbeat (2500 ms),
    // so the broker keeps the default too: a faster broker would purge it.
    const b = await h.broker(addr, { heartbeat: 2500 })
    h.directory(addr, b)
    client = await h.client(addr)
    // Let the Directory's SUB join the broker's PUB before workers appear.
    await waitFor(async () => Array.isArray(await dir('$dir')), 2000, 20, '$dir to answer')
    await delay(50)
    for (const prefix of ['d1', 'd2']) {
      echoWorkers.push(await h.worker(addr, 'echo', (d, r) => r.end(d), { heartbeat: 2500, prefix }))
    }
  })
  after(() => h.stopAll())

  it('lists the worker ids serving a service', async () => {
    const want = echoWorkers.map((w) => w.socketId).sort()
    const got = await waitFor(async () => {
      const ids = await dir('echo')
      return ids && ids.length === 2 ? ids : null
    }, 2000, 20, '$dir to list 2 echo workers')
    assert.deepEqual([...got].sort(), want)
  })

  it('answers the whole map with no data', async () => {
    const map = await dir(undefined)
    assert.equal(typeof map, 'object')
    assert.ok(Array.isArray(map.echo))
    assert.ok(Array.isArray(map.$dir))
    assert.equal(map.$dir.length, 1)
  })

  it('answers an empty list for an unknown service', async () => {
    assert.deepEqual(await dir('no-such-service'), [])
  })

  it('lets a client address each listed worker by workerId', async () => {
    const ids = await dir('echo')
    for (const id of ids) {
      const res = await callback(client, 'echo', id, { workerId: id })
      assert.equal(res.data, id)
    }
  })

  it('drops a worker from the list when it stops', async () => {
    const gone = echoWorkers.shift()
    const goneId = gone.socketId
    gone.stop()
    const got = await waitFor(async () => {
      const ids = await dir('echo')
      return ids && ids.length === 1 ? ids : null
    }, 2000, 20, '$dir to list 1 echo worker')
    assert.notEqual(got[0], goneId)
    assert.equal(got[0], echoWorkers[0].socketId)
  })
})

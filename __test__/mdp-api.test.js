'use strict'
// Our pigato-compatible API beyond the parity spec: argument checks, call(), on-time
// timeouts, errors thrown by user handlers, every transport, and clean process exit.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Broker, Worker, Client } = require('..')
const { uniqAddress, captureEvent, withTimeout, spawnNode } = require('./helpers')

async function stack (transport, conf = {}) {
  const addr = await uniqAddress(transport)
  const broker = new Broker(addr, { heartbeat: 200, intch: false })
  await new Promise((resolve) => broker.start(resolve))
  const worker = new Worker(addr, 'echo', { heartbeat: 200, ...conf.worker })
  const client = new Client(addr, { heartbeat: 200, ...conf.client })
  worker.on('request', (data, reply) => { reply.write('p:' + data); reply.end('f:' + data) })
  worker.start()
  client.start()
  const stop = () => new Promise((resolve) => { client.stop(); worker.stop(); broker.stop(resolve) })
  return { addr, broker, worker, client, stop }
}

test('constructors reject wrong arguments with a TypeError naming the argument', () => {
  assert.throws(() => new Broker(42), { name: 'TypeError', message: /"endpoint"/ })
  assert.throws(() => new Broker('tcp://127.0.0.1:1', { heartbeat: 'fast' }), { name: 'TypeError', message: /conf\.heartbeat/ })
  assert.throws(() => new Broker('tcp://127.0.0.1:1', { dmode: 'fifo' }), { name: 'TypeError', message: /conf\.dmode/ })
  assert.throws(() => new Worker('tcp://127.0.0.1:1'), { name: 'TypeError', message: /"service"/ })
  assert.throws(() => new Worker('nope', 'svc'), { name: 'TypeError', message: /"broker"/ })
  assert.throws(() => new Worker('tcp://127.0.0.1:1', 'svc', { concurrency: '3' }), { name: 'TypeError', message: /conf\.concurrency/ })
  assert.throws(() => new Client({}), { name: 'TypeError', message: /"broker"/ })
  assert.throws(() => new Client('tcp://127.0.0.1:1', 'conf'), { name: 'TypeError', message: /"conf"/ })
  assert.throws(() => new Client('tcp://127.0.0.1:1', { onConnect: 1 }), { name: 'TypeError', message: /conf\.onConnect/ })
})

for (const transport of ['tcp', 'ipc', 'inproc']) {
  test(`request with partial and final replies over ${transport}`, async () => {
    const s = await stack(transport)
    try {
      const got = []
      await withTimeout(new Promise((resolve, reject) => {
        s.client.request('echo', 'x', { timeout: 3000 })
          .on('data', (d) => got.push(d)).on('end', resolve).on('error', reject)
      }), 4000, 'request')
      assert.deepEqual(got, ['p:x', 'f:x'])
      const partials = []
      assert.equal(await s.client.call('echo', 'y', { timeout: 3000 }, (d) => partials.push(d)), 'f:y')
      assert.deepEqual(partials, ['p:y'])
    } finally {
      await s.stop()
    }
  })
}

test('a worker started before its inproc broker still gets requests', async () => {
  const addr = await uniqAddress('inproc')
  const worker = new Worker(addr, 'late', { heartbeat: 200 })
  worker.on('request', (d, reply) => reply.end(d * 2))
  worker.start()
  const client = new Client(addr, { heartbeat: 200 })
  client.start()
  const broker = new Broker(addr, { heartbeat: 200, intch: false })
  await new Promise((resolve) => broker.start(resolve))
  try {
    assert.equal(await withTimeout(client.call('late', 21, { timeout: 3000 }), 4000, 'call'), 42)
  } finally {
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

test('call() rejects with the error value and code; unknown services time out on time', async () => {
  const s = await stack('tcp')
  s.worker.removeAllListeners('request')
  s.worker.on('request', (d, reply) => reply.error('E_BAD_INPUT'))
  try {
    await assert.rejects(s.client.call('echo', 1, { timeout: 3000 }), { code: 'E_BAD_INPUT' })
    const t0 = Date.now()
    await assert.rejects(s.client.call('nobody-serves-this', 1, { timeout: 300 }), { code: 'C_TIMEOUT' })
    const took = Date.now() - t0
    assert.ok(took >= 290 && took < 1000, `timeout fired after ${took} ms, expected about 300`)
  } finally {
    await s.stop()
  }
})

test('an exception in a request handler becomes an error event and the worker keeps serving', async () => {
  const s = await stack('tcp')
  s.worker.removeAllListeners('request')
  let first = true
  s.worker.on('request', (d, reply) => {
    if (first) { first = false; throw new Error('handler bug') }
    reply.end('ok:' + d)
  })
  const errored = captureEvent(s.worker, 'error', 3000)
  try {
    s.client.request('echo', 'boom', () => {}, () => {}, { timeout: 500 })
    const [err] = await errored
    assert.equal(err.message, 'handler bug')
    assert.equal(await s.client.call('echo', 'next', { timeout: 3000 }), 'ok:next')
  } finally {
    await s.stop()
  }
})

test('a request made before start() fails at once instead of hanging', async () => {
  const client = new Client('tcp://127.0.0.1:9')
  await assert.rejects(client.call('x', 1), { code: 'C_NOT_STARTED' })
})

test('a process that stops everything exits by itself', async () => {
  const addr = await uniqAddress('tcp')
  const child = spawnNode(path.join(__dirname, 'fixtures', 'mdp-exit.js'), [addr])
  const done = await child.waitJson((o) => o.event === 'done', 8000)
  assert.equal(done.out, 'bye')
  const { code } = await withTimeout(child.exited, 5000, 'process exit')
  assert.equal(code, 0)
})

test('with default heartbeats a new worker serves its first request at once, not after a tick', async () => {
  const addr = await uniqAddress('tcp')
  const broker = new Broker(addr, { intch: false })
  await new Promise((resolve) => broker.start(resolve))
  const worker = new Worker(addr, 'prompt')
  worker.on('request', (d, reply) => reply.end(d))
  const client = new Client(addr)
  worker.start()
  client.start()
  try {
    const t0 = Date.now()
    assert.equal(await client.call('prompt', 'now', { timeout: 2000 }), 'now')
    assert.ok(Date.now() - t0 < 500, `first request took ${Date.now() - t0} ms (heartbeat is 2500)`)
  } finally {
    client.stop(); worker.stop()
    await new Promise((resolve) => broker.stop(resolve))
  }
})

test('request opts reach the worker with timeout and retry filled in; neither side shares an opts object', async () => {
  const s = await stack('tcp', { client: { timeout: 7000, retry: 0 } })
  try {
    const seen = []
    s.worker.removeAllListeners('request')
    s.worker.on('request', (data, reply, opts) => {
      seen.push({ ...opts })
      opts.touched = true // must not leak into the next request's opts
      reply.end(data)
    })
    const mine = { timeout: 3000 }
    await s.client.call('echo', 1, mine)
    await s.client.call('echo', 2, mine)
    await s.client.call('echo', 3, { retry: 0, tag: 'a', nested: { n: 1 } })
    await s.client.call('echo', 4)
    assert.deepEqual(mine, { timeout: 3000 }, "the caller's opts object is not written to")
    assert.deepEqual(seen[0], { timeout: 3000, retry: 0 })
    assert.deepEqual(seen[1], { timeout: 3000, retry: 0 }, 'a fresh object per request')
    assert.deepEqual(seen[2], { retry: 0, tag: 'a', nested: { n: 1 }, timeout: 7000 })
    assert.deepEqual(seen[3], { timeout: 7000, retry: 0 })
  } finally {
    await s.stop()
  }
})

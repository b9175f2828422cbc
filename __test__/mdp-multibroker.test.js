'use strict'
// Multi-broker (issue 14): a Worker registers with every broker of its list, a Client spreads requests
// over the brokers it is connected to, and a broker killed under load loses no `retry` request: its
// unanswered ones move to another broker the moment its connection closes, and each is answered once.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Broker, Client, Worker } = require('..')
const { uniqAddress, spawnNode, withTimeout, waitFor, delay } = require('./helpers')

const PEERS = path.join(__dirname, '..', 'bench', 'peers')

async function startBroker (addr) {
  const broker = new Broker(addr, { intch: false })
  await new Promise((resolve) => broker.start(resolve))
  return broker
}

test('a worker on two brokers serves both, and a client spreads its requests over them', async () => {
  const [a, b] = [await uniqAddress('tcp'), await uniqAddress('tcp')]
  const brokers = [await startBroker(a), await startBroker(b)]
  const worker = new Worker([a, b], 'multi')
  worker.on('request', (inp, reply) => reply.end(inp + '!'))
  const client = new Client([a, b])
  try {
    worker.start()
    client.start()
    await waitFor(() => client.members.every((m) => m._up), 3000, 10, 'both client links up')
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call('multi', i, { timeout: 5000 })))
    assert.deepEqual(replies, Array.from({ length: 100 }, (_, i) => i + '!'))
    const counts = await waitFor(() => {
      const c = brokers.map((x) => x.stats().requests)
      return c[0] + c[1] === 100 && c
    }, 2000, 20, 'broker stats')
    assert.ok(counts[0] >= 30 && counts[1] >= 30, `requests per broker: ${counts}`)
    // Both brokers know the worker: each answers on its own.
    worker.conf.concurrency = 5
    assert.deepEqual(worker.members.map((m) => m.conf.concurrency), [5, 5])
  } finally {
    client.stop()
    worker.stop()
    for (const x of brokers) await new Promise((resolve) => x.stop(resolve))
  }
})

test('kill -9 of one of two brokers under load: every retry request is answered exactly once', async (t) => {
  const [a, b] = [await uniqAddress('tcp'), await uniqAddress('tcp')]
  const doomed = spawnNode(path.join(PEERS, 'pigato-broker.js'), ['--impl', 'zmqbus', '--addr', a, '--intch', 'tcp://127.0.0.1:0'])
  await doomed.waitJson((m) => m.event === 'ready', 10000)
  const survivor = await startBroker(b)
  // The worker answers after a pause, so requests are in flight in the doomed broker when it dies.
  const worker = new Worker([a, b], 'slow', { concurrency: -1 })
  worker.on('request', (inp, reply) => setTimeout(() => reply.end(inp), 300))
  const client = new Client([a, b], { retry: 1 })
  const answers = new Map()
  let failed = 0
  try {
    worker.start()
    client.start()
    await waitFor(() => client.members.every((m) => m._up), 5000, 10, 'both client links up')
    await waitFor(() => worker.members.every((m) => m.socketId), 5000, 10, 'worker sessions')
    await delay(300) // the workers' READY reached both brokers
    const N = 400
    const done = []
    for (let i = 0; i < N; i++) {
      done.push(new Promise((resolve) => {
        client.request('slow', i, undefined, (err, data) => {
          if (err) failed++
          else answers.set(data, (answers.get(data) || 0) + 1)
          resolve()
        }, { timeout: 10000 })
      }))
    }
    await delay(100)
    const killedAt = Date.now()
    await doomed.kill('SIGKILL')
    await withTimeout(Promise.all(done), 8000, 'every request ends')
    t.diagnostic(`all ${N} ended ${Date.now() - killedAt} ms after the kill`)
    assert.equal(failed, 0, 'no request failed')
    assert.equal(answers.size, N, 'every request answered')
    assert.ok([...answers.values()].every((n) => n === 1), 'none answered twice')
    // The doomed broker's share was still with the worker (300 ms) when it died: it moved to the survivor.
    const taken = survivor.stats().requests
    t.diagnostic(`the survivor served ${taken} of ${N}`)
    assert.ok(taken >= N / 2 + 150, `the survivor took over the doomed broker's requests (${taken})`)
  } finally {
    client.stop()
    worker.stop()
    await doomed.kill('SIGKILL')
    await new Promise((resolve) => survivor.stop(resolve))
  }
})

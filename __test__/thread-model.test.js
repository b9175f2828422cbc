'use strict'
// Issue "thread model": a Client and a Worker run their sockets and timers on the JS thread that made
// them (libuv), with no thread of ours in between; each worker_threads thread drives its own; a blocking
// handler stalls nobody else; ZMQBUS_THREAD=runtime keeps the earlier model (and shows the check can fail).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnNode, freePort, withTimeout, delay } = require('./helpers')

const PEERS = path.join(__dirname, '..', 'bench', 'peers')

async function startBroker () {
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const intch = `tcp://127.0.0.1:${await freePort()}`
  const broker = spawnNode(path.join(PEERS, 'pigato-broker.js'), ['--impl', 'zmqbus', '--addr', addr, '--intch', intch])
  await broker.waitJson((m) => m.event === 'ready', 10000)
  return { addr, broker }
}

/** A script that serves and requests in one process, then prints the names of its threads. */
const THREADS_SCRIPT = `
const fs = require('node:fs')
const { Worker, Client } = require(${JSON.stringify(path.join(__dirname, '..'))})
const [addr] = process.argv.slice(2)
const worker = new Worker(addr, 'tm', { heartbeat: 500 })
worker.on('request', (inp, reply) => reply.end(inp + '!'))
worker.start()
const client = new Client(addr, { heartbeat: 500 })
client.start()
let done = 0
for (let i = 0; i < 200; i++) {
  client.request('tm', 'r' + i, undefined, (err, data) => {
    if (err || data !== 'r' + i + '!') { console.log(JSON.stringify({ bad: String(err || data) })); process.exit(1) }
    if (++done === 200) {
      const names = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim())
      console.log(JSON.stringify({ done, names }))
      client.stop(); worker.stop()
    }
  }, { timeout: 5000 })
}
`

async function threadNames (env) {
  const { addr, broker } = await startBroker()
  const script = path.join(require('node:os').tmpdir(), `zmqbus-threads-${process.pid}.js`)
  fs.writeFileSync(script, THREADS_SCRIPT)
  try {
    const child = spawnNode(script, [addr], { env })
    const out = await child.waitJson((m) => m.done !== undefined || m.bad !== undefined, 15000)
    assert.equal(out.bad, undefined)
    const exit = await withTimeout(child.exited, 5000, 'client process exit')
    assert.deepEqual(exit, { code: 0, signal: null }, 'the process exits by itself after stop()')
    return out.names
  } finally {
    fs.rmSync(script, { force: true })
    await broker.kill('SIGTERM', 2000)
  }
}

test('a client and a worker on the JS thread start no runtime thread of ours', async () => {
  const names = await threadNames({})
  assert.ok(!names.includes('zmqbus-rt'), `threads: ${names.join(', ')}`)
})

test('ZMQBUS_THREAD=runtime keeps the runtime thread model (and the check above can fail)', async () => {
  const names = await threadNames({ ZMQBUS_THREAD: 'runtime' })
  assert.ok(names.includes('zmqbus-rt'), `threads: ${names.join(', ')}`)
})

test('each worker_threads thread drives its own client and worker; terminate() closes them cleanly', async () => {
  const { Worker: Thread } = require('node:worker_threads')
  const { addr, broker } = await startBroker()
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Worker, Client } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const w = new Worker(workerData.addr, 'wt' + workerData.n, { heartbeat: 500 })
    w.on('request', (inp, reply) => reply.end(inp * 2))
    w.start()
    const c = new Client(workerData.addr, { heartbeat: 500 })
    c.start()
    let got = 0
    for (let i = 0; i < 50; i++) {
      c.request('wt' + workerData.n, i, undefined, (err, data) => {
        if (err || data !== i * 2) parentPort.postMessage({ bad: String(err || data) })
        else if (++got === 50) parentPort.postMessage({ got })
      }, { timeout: 5000 })
    }
  `
  try {
    const threads = [0, 1].map((n) => new Thread(code, { eval: true, workerData: { addr, n } }))
    const results = await withTimeout(Promise.all(threads.map((t) => new Promise((resolve, reject) => {
      t.once('message', resolve)
      t.once('error', reject)
    }))), 15000, 'both threads served')
    assert.deepEqual(results, [{ got: 50 }, { got: 50 }])
    // Still started: terminate() must close their sockets and timers with the env, not crash the process.
    const codes = await withTimeout(Promise.all(threads.map((t) => t.terminate())), 5000, 'terminate')
    assert.deepEqual(codes, [1, 1])
  } finally {
    await broker.kill('SIGTERM', 2000)
  }
})

test('a handler that blocks its JS thread stalls nobody else, and its requests are answered after', async () => {
  const { Client } = require('..')
  const { addr, broker } = await startBroker()
  const other = spawnNode(path.join(PEERS, 'pigato-worker.js'), ['--impl', 'zmqbus', '--addr', addr, '--service', 'quick'])
  await other.waitJson((m) => m.event === 'ready', 10000)
  const blocker = `
    const { Worker } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const w = new Worker(process.argv[2], 'slow')
    w.on('request', (inp, reply) => { const end = Date.now() + 1500; while (Date.now() < end); reply.end('slept') })
    w.once('connect', () => console.log(JSON.stringify({ event: 'ready' })))
    w.start()
  `
  const script = path.join(require('node:os').tmpdir(), `zmqbus-blocker-${process.pid}.js`)
  fs.writeFileSync(script, blocker)
  const slow = spawnNode(script, [addr])
  const client = new Client(addr, { heartbeat: 200 })
  try {
    await slow.waitJson((m) => m.event === 'ready', 10000)
    client.start()
    const slowReply = client.call('slow', 'x', { timeout: 10000 })
    await delay(100)
    // While the slow worker's thread is blocked (within its liveness), the broker serves the others.
    const t0 = Date.now()
    const quick = []
    for (let i = 0; i < 20; i++) quick.push(await client.call('quick', 'q' + i, { timeout: 3000 }))
    assert.ok(Date.now() - t0 < 1200, `20 quick requests took ${Date.now() - t0} ms beside a blocked worker`)
    assert.deepEqual(quick, Array.from({ length: 20 }, (_, i) => 'q' + i + 'FINAL'))
    assert.equal(await slowReply, 'slept', 'the blocked worker answers once its handler returns')
    // Its heartbeats resumed: it still serves.
    assert.equal(await client.call('slow', 'again', { timeout: 5000 }), 'slept')
  } finally {
    client.stop()
    fs.rmSync(script, { force: true })
    await slow.kill('SIGTERM', 2000)
    await other.kill('SIGTERM', 2000)
    await broker.kill('SIGTERM', 2000)
  }
})

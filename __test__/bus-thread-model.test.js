'use strict'
// Issue "thread model", the bus: a node made on a JS thread runs its discovery, election timers and data
// path on that thread's libuv loop. Its forwarder serves every node of the cluster and keeps a Rust thread
// of its own: a bus-only process has exactly one runtime thread ('zmqbus-rt'), and that thread stays idle
// (its forwarder's 100 ms stats tick) while the node exchanges messages through another node's forwarder.
// ZMQBUS_THREAD=runtime runs the node's loop there too (and shows the check can fail).
// Discovery stays on the machine: every node here takes loopbackOpts() (multicast_interface '127.0.0.1').
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnNode, withTimeout } = require('./helpers')
const { loopbackOpts } = require('./bus-helpers')

const ROOT = JSON.stringify(path.join(__dirname, '..'))
const ROUND_TRIPS = 300

// One node process: the master (priority 9) only relays; the subject (priority 0) sends ROUND_TRIPS
// messages one at a time through the master's forwarder and reports its runtime threads' context switches.
const SCRIPT = `
const fs = require('node:fs')
const { createNode } = require(${ROOT})
const [role, json] = process.argv.slice(2)
const opts = JSON.parse(json)
const node = createNode({ ...opts, election_priority: role === 'master' ? 9 : 0 })
const rtThreads = () => fs.readdirSync('/proc/self/task')
  .filter((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim() === 'zmqbus-rt')
const switches = (tids) => tids.reduce((sum, t) => {
  const status = fs.readFileSync('/proc/self/task/' + t + '/status', 'utf8')
  return sum + [...status.matchAll(/ctxt_switches:\\s+(\\d+)/g)].reduce((s, m) => s + Number(m[1]), 0)
}, 0)
process.stdin.on('data', () => node.stop().then(() => process.exit(0)))
process.stdin.resume()
if (role === 'master') {
  node.on('ready', () => console.log(JSON.stringify({ ready: true })))
} else {
  node.subscribe('ping')
  node.on('elected', ({ isMe }) => { if (isMe) console.log(JSON.stringify({ error: 'the subject was elected' })) })
  node.on('ready', async () => {
    let got = 0
    let next = null
    node.on('message', () => { got++; if (next) next() })
    // Primed: the subscription has reached the master's forwarder.
    while (got === 0) { node.publish('ping', 'warm'); await new Promise((resolve) => setTimeout(resolve, 50)) }
    const tids = rtThreads()
    const before = switches(tids)
    const started = Date.now()
    for (let i = 0; i < ${ROUND_TRIPS}; i++) {
      const seen = got
      await new Promise((resolve) => { next = resolve; node.publish('ping', String(i)) })
      while (got === seen) await new Promise((resolve) => setImmediate(resolve))
    }
    const ms = Date.now() - started
    console.log(JSON.stringify({ rtThreads: tids.length, switches: switches(tids) - before, ms, master: node.master, me: node.id }))
  })
}
`

async function measure (mode) {
  const script = path.join(os.tmpdir(), `zmqbus-bus-threads-${process.pid}.js`)
  fs.writeFileSync(script, SCRIPT)
  const opts = JSON.stringify(loopbackOpts())
  const env = { ZMQBUS_THREAD: mode }
  const master = spawnNode(script, ['master', opts], { env })
  let subject = null
  try {
    await master.waitJson((m) => m.ready, 15000)
    subject = spawnNode(script, ['subject', opts], { env })
    const out = await subject.waitJson((m) => m.switches !== undefined || m.error, 30000)
    assert.equal(out.error, undefined)
    assert.notEqual(out.master, out.me, 'the messages went through the other process\'s forwarder')
    return out
  } finally {
    for (const child of [subject, master]) {
      if (!child) continue
      child.send({ stop: true })
      await withTimeout(child.exited, 5000, 'node process exit').catch(() => child.kill('SIGKILL'))
    }
    fs.rmSync(script, { force: true })
  }
}

test('a bus-only process has one runtime thread, for its forwarder; the node\'s messages never wake it', async (t) => {
  const out = await measure('')
  t.diagnostic(JSON.stringify(out))
  assert.equal(out.rtThreads, 1, 'the forwarder\'s runtime thread')
  // Each round trip reads and writes on the node's sockets; on the JS thread that costs the runtime thread
  // nothing: what remains is its forwarder's stats tick (10 a second) and scheduling noise.
  const tickBudget = Math.ceil(out.ms / 100) * 2 + 20
  assert.ok(out.switches < Math.min(tickBudget, ROUND_TRIPS / 3),
    `${out.switches} context switches of the runtime thread in ${out.ms} ms for ${ROUND_TRIPS} round trips`)
})

test('ZMQBUS_THREAD=runtime runs the node on the runtime thread (and the check above can fail)', async (t) => {
  const out = await measure('runtime')
  t.diagnostic(JSON.stringify(out))
  assert.equal(out.rtThreads, 1)
  assert.ok(out.switches >= ROUND_TRIPS,
    `${out.switches} context switches of the runtime thread in ${out.ms} ms for ${ROUND_TRIPS} round trips`)
})

test('each worker_threads thread drives its own node; terminate() with the node running closes it', async () => {
  const { Worker: Thread } = require('node:worker_threads')
  const opts = loopbackOpts()
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { createNode } = require(${ROOT})
    const node = createNode(workerData.opts)
    const heard = new Set()
    node.subscribe('hello')
    node.on('message', (msg) => {
      heard.add(String(msg[1])) // [channel, ...args]
      if (heard.size === 2) parentPort.postMessage([...heard].sort())
    })
    // Left running on purpose: terminate() must close it with the env.
    const timer = setInterval(() => node.publish('hello', 'thread ' + workerData.n), 50)
    setTimeout(() => clearInterval(timer), 10000)
  `
  const threads = [0, 1].map((n) => new Thread(code, { eval: true, workerData: { opts, n } }))
  try {
    const heard = await withTimeout(Promise.all(threads.map((t) => new Promise((resolve, reject) => {
      t.once('message', resolve)
      t.once('error', reject)
    }))), 15000, 'both threads heard both nodes')
    assert.deepEqual(heard, [['thread 0', 'thread 1'], ['thread 0', 'thread 1']])
  } finally {
    const codes = await withTimeout(Promise.all(threads.map((t) => t.terminate())), 5000, 'terminate')
    assert.deepEqual(codes, [1, 1])
  }
})

'use strict'
// Issue "thread model", classic sockets (STREAM too): a socket made on a JS thread runs its I/O and timers on that
// thread's libuv loop, so a process using only classic sockets starts no runtime thread of ours;
// ZMQBUS_THREAD=runtime keeps the earlier model (and shows the check can fail); each worker_threads thread
// drives its own sockets, inproc still joins sockets of different threads, and terminate() with sockets
// open closes them with the env.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnNode, withTimeout } = require('./helpers')

const ROOT = JSON.stringify(path.join(__dirname, '..'))

/** PUSH->PULL and DEALER<->ROUTER over tcp, `n` messages each; resolves with what arrived. */
const EXCHANGE = `
function exchange (zmq, n) {
  const pull = zmq.socket('pull')
  const push = zmq.socket('push')
  const router = zmq.socket('router')
  const dealer = zmq.socket('dealer')
  pull.bindSync('tcp://127.0.0.1:*')
  router.bindSync('tcp://127.0.0.1:*')
  const ep = (s) => String(s.getsockopt(zmq.ZMQ_LAST_ENDPOINT)).replace(/\\0$/, '')
  push.connect(ep(pull))
  dealer.connect(ep(router))
  router.on('message', (id, body) => router.send([id, body + '!']))
  return new Promise((resolve) => {
    let pulled = 0
    let echoed = 0
    const done = () => {
      if (pulled === n && echoed === n) resolve({ pulled, echoed, socks: [pull, push, router, dealer] })
    }
    pull.on('message', () => { pulled++; done() })
    dealer.on('message', (body) => { if (String(body).endsWith('!')) echoed++; done() })
    for (let i = 0; i < n; i++) {
      push.send('p' + i)
      dealer.send('d' + i)
    }
  })
}
`

/** A STREAM socket echoing a plain TCP client's bytes; resolves with what the client got back. */
const STREAM_ECHO = `
function streamEcho (zmq) {
  const net = require('node:net')
  const stream = zmq.socket('stream')
  stream.bindSync('tcp://127.0.0.1:*')
  const port = Number(String(stream.getsockopt(zmq.ZMQ_LAST_ENDPOINT)).replace(/\0$/, '').split(':').pop())
  stream.on('message', (id, body) => { if (body.length > 0) stream.send([id, String(body).toUpperCase() + '!']) })
  return new Promise((resolve) => {
    const client = net.connect(port, '127.0.0.1', () => client.write('raw'))
    client.on('data', (d) => { client.destroy(); resolve({ raw: String(d), stream }) })
  })
}
`

const THREADS_SCRIPT = `
const fs = require('node:fs')
const zmq = require(${ROOT} + '/zmq')
${EXCHANGE}
${STREAM_ECHO}
Promise.all([exchange(zmq, 200), streamEcho(zmq)]).then(([{ pulled, echoed, socks }, { raw, stream }]) => {
  const names = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim())
  console.log(JSON.stringify({ pulled, echoed, raw, names }))
  for (const s of socks) s.close()
  stream.close()
})
`

async function threadNames (env) {
  const script = path.join(os.tmpdir(), `zmqbus-sock-threads-${process.pid}.js`)
  fs.writeFileSync(script, THREADS_SCRIPT)
  try {
    const child = spawnNode(script, [], { env })
    const out = await child.waitJson((m) => m.names !== undefined, 15000)
    assert.deepEqual([out.pulled, out.echoed, out.raw], [200, 200, 'RAW!'])
    const exit = await withTimeout(child.exited, 5000, 'socket process exit')
    assert.deepEqual(exit, { code: 0, signal: null }, 'the process exits by itself after close()')
    return out.names
  } finally {
    fs.rmSync(script, { force: true })
  }
}

test('a process using only classic sockets (PUSH/PULL, DEALER/ROUTER, STREAM over tcp) starts no runtime thread', async () => {
  // Explicitly the default model, whatever this test process was started with.
  const names = await threadNames({ ZMQBUS_THREAD: '' })
  assert.ok(!names.includes('zmqbus-rt'), `threads: ${names.join(', ')}`)
})

test('ZMQBUS_THREAD=runtime keeps classic sockets on the runtime thread (and the check above can fail)', async () => {
  const names = await threadNames({ ZMQBUS_THREAD: 'runtime' })
  assert.ok(names.includes('zmqbus-rt'), `threads: ${names.join(', ')}`)
})

test('each worker_threads thread drives its own sockets; inproc joins threads; terminate() closes them', async () => {
  const { Worker: Thread } = require('node:worker_threads')
  const zmq = require('../zmq')
  const name = `inproc://threads-${process.pid}`
  const main = zmq.socket('pull')
  main.bindSync(name)
  const fromThreads = []
  main.on('message', (m) => fromThreads.push(String(m)))
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const zmq = require(${ROOT} + '/zmq')
    ${EXCHANGE}
    const push = zmq.socket('push')
    push.connect(workerData.name)
    push.send('hello from ' + workerData.n)
    // Left open on purpose: terminate() must close them with the env.
    exchange(zmq, 100).then(({ pulled, echoed }) => parentPort.postMessage({ pulled, echoed }))
  `
  try {
    const threads = [0, 1].map((n) => new Thread(code, { eval: true, workerData: { name, n } }))
    const results = await withTimeout(Promise.all(threads.map((t) => new Promise((resolve, reject) => {
      t.once('message', resolve)
      t.once('error', reject)
    }))), 15000, 'both threads exchanged')
    assert.deepEqual(results, [{ pulled: 100, echoed: 100 }, { pulled: 100, echoed: 100 }])
    const t0 = Date.now()
    while (fromThreads.length < 2 && Date.now() - t0 < 5000) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.deepEqual(fromThreads.sort(), ['hello from 0', 'hello from 1'])
    const codes = await withTimeout(Promise.all(threads.map((t) => t.terminate())), 5000, 'terminate')
    assert.deepEqual(codes, [1, 1])
  } finally {
    main.close()
  }
})

test('an unref()d socket lets the process exit; a ref()d one keeps it until close()', async () => {
  const script = path.join(os.tmpdir(), `zmqbus-sock-ref-${process.pid}.js`)
  fs.writeFileSync(script, `
    const zmq = require(${ROOT} + '/zmq')
    const pull = zmq.socket('pull')
    pull.bindSync('tcp://127.0.0.1:*')
    if (process.argv[2] === 'unref') pull.unref()
    else setTimeout(() => { console.log(JSON.stringify({ closing: true })); pull.close() }, 300)
  `)
  try {
    for (const mode of ['unref', 'ref']) {
      const t0 = Date.now()
      const child = spawnNode(script, [mode])
      const exit = await withTimeout(child.exited, 5000, `${mode} process exit`)
      assert.deepEqual(exit, { code: 0, signal: null })
      const took = Date.now() - t0
      if (mode === 'ref') assert.ok(took >= 300, `a ref()d socket held the process ${took} ms`)
    }
  } finally {
    fs.rmSync(script, { force: true })
  }
})

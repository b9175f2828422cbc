'use strict'
// Role: one publisher or subscriber (--role pub|sub) over --kind:
//   zeromq        zeromq@6 Publisher/Subscriber (raw PUB/SUB, default HWM 1000)
//   nats          the `nats` client against nats-server on --port
//   redis         `ioredis` PUBLISH / SUBSCRIBE against redis-server on --port
//   ours-sockets  this package's classic API: socket('pub') / socket('sub')
//   ours-bus      this package's bus: createNode() (hook, see busDriver)
// Protocol with the orchestrator:
//   both print {type:'ready'} when bound/connected/subscribed;
//   pub: on {cmd:'warm'} sends a 'w' message every 10 ms until {cmd:'go'}, then
//        sends --n messages of --size bytes as fast as its client allows and
//        prints {type:'result', sent, t0, ms};
//   sub: prints {type:'warm'} at its first 'w' message, counts the rest, and
//        prints {type:'result', received, first, last} once it has --n of them
//        or nothing came for --idle ms (then the missing ones count as lost).
const path = require('node:path')
const { parseArgs, emit, onCommand, now, onTerm, failLoudly } = require('./common')

failLoudly()
const a = parseArgs()
const channel = 'bench'
const size = a.size || 16

/** Each driver: { pub(): {send(buf) -> maybe promise, flush(), close()}, sub(onMsg): {close()} } */
const drivers = {
  async zeromq () {
    const zmq = require('zeromq')
    const endpoint = `tcp://127.0.0.1:${a.port}`
    return {
      async pub () {
        const s = new zmq.Publisher()
        await s.bind(endpoint)
        return { send: (m) => s.send(m), flush: async () => {}, close: () => s.close() }
      },
      async sub (onMsg) {
        const s = new zmq.Subscriber()
        s.connect(endpoint)
        s.subscribe('')
        ;(async () => { for await (const [m] of s) onMsg(m) })().catch(() => {})
        return { close: () => s.close() }
      }
    }
  },
  async nats () {
    const { connect } = require('nats')
    const nc = await connect({ servers: `127.0.0.1:${a.port}` })
    return {
      async pub () {
        let n = 0
        return {
          // The client buffers; flushing every 1000 keeps its buffer bounded.
          send: (m) => { nc.publish(channel, m); if (++n % 1000 === 0) return nc.flush() },
          flush: () => nc.flush(),
          close: () => nc.close()
        }
      },
      async sub (onMsg) {
        nc.subscribe(channel, { callback: (err, msg) => { if (!err) onMsg(msg.data) } })
        await nc.flush()
        return { close: () => nc.close() }
      }
    }
  },
  async redis () {
    const Redis = require('ioredis')
    const r = new Redis({ host: '127.0.0.1', port: a.port, lazyConnect: true })
    await r.connect()
    return {
      async pub () {
        let batch = []
        return {
          // Pipelined: up to 1000 PUBLISH commands outstanding.
          send: (m) => { batch.push(r.publish(channel, m)); if (batch.length >= 1000) { const b = batch; batch = []; return Promise.all(b) } },
          flush: () => Promise.all(batch.splice(0)),
          close: () => r.disconnect()
        }
      },
      async sub (onMsg) {
        r.on('messageBuffer', (ch, m) => onMsg(m))
        await r.subscribe(channel)
        return { close: () => r.disconnect() }
      }
    }
  },
  async 'ours-sockets' () {
    // Hook: this package's classic socket API (being built on another branch).
    const ours = require(path.join(__dirname, '..', '..'))
    if (typeof ours.socket !== 'function') throw new Error('not merged yet: socket()')
    const endpoint = `tcp://127.0.0.1:${a.port}`
    return {
      async pub () {
        const s = ours.socket('pub')
        s.bindSync(endpoint)
        return { send: (m) => { s.send(m) }, flush: async () => {}, close: () => s.close() }
      },
      async sub (onMsg) {
        const s = ours.socket('sub')
        s.connect(endpoint)
        s.subscribe('')
        s.on('message', (m) => onMsg(m))
        return { close: () => s.close() }
      }
    }
  },
  async 'ours-bus' () {
    // This package's bus: two nodes (publisher and subscriber processes) discover each other
    // on loopback only (multicast interface 127.0.0.1), on the orchestrator's port and a group
    // derived from it, so parallel runs never meet.
    const ours = require(path.join(__dirname, '..', '..'))
    const opts = {
      multicast_interface: '127.0.0.1',
      multicast_port: a.port,
      multicast_addr: `239.77.${(a.port >> 8) & 255}.${a.port & 255}`,
      election_timeout: 200,
      heartbeat_period: 200,
      heartbeat_timeout: 600,
      publish_buffer: 1_000_000
    }
    const start = () => new Promise((resolve, reject) => {
      const node = ours.createNode(opts)
      node.once('ready', () => resolve(node))
      node.once('error', reject)
    })
    return {
      async pub () {
        const node = await start()
        return { send: (m) => { node.publish(channel, m) }, flush: async () => {}, close: () => node.stop() }
      },
      async sub (onMsg) {
        const node = await start()
        node.subscribe(channel)
        node.on('message', (msg) => onMsg(msg[1]))
        return { close: () => node.stop() }
      }
    }
  }
}

async function runPub (d) {
  const p = await d.pub()
  emit({ type: 'ready' })
  let warming = null
  onCommand(async (c) => {
    if (c.cmd === 'warm' && !warming) {
      warming = setInterval(() => p.send(Buffer.from('w')), 10)
    } else if (c.cmd === 'go') {
      clearInterval(warming)
      const body = Buffer.alloc(size, 'x')
      const t0 = now()
      for (let i = 0; i < a.n; i++) {
        const m = Buffer.from(body)
        m.write('m', 0)
        const r = p.send(m)
        if (r && r.then) await r
      }
      await p.flush()
      emit({ type: 'result', sent: a.n, t0, ms: now() - t0 })
    }
  })
  onTerm(() => p.close())
}

async function runSub (d) {
  let warm = false
  let received = 0
  let first = 0
  let last = 0
  let done = false
  const finish = () => {
    if (done) return
    done = true
    emit({ type: 'result', received, first, last })
  }
  let idleTimer = null
  const onMsg = (m) => {
    if (m[0] === 0x77) { // 'w'
      if (!warm) { warm = true; emit({ type: 'warm' }) }
      return
    }
    const t = now()
    if (received === 0) first = t
    received++
    last = t
    if (received >= a.n) finish()
    else if (received % 256 === 1) armIdle()
  }
  function armIdle () {
    clearTimeout(idleTimer)
    idleTimer = setTimeout(() => (now() - last >= (a.idle || 1000) ? finish() : armIdle()), a.idle || 1000)
  }
  const s = await d.sub(onMsg)
  emit({ type: 'ready' })
  // Nothing at all arrived: the idle timer never started, so the orchestrator ends it.
  onCommand((c) => { if (c.cmd === 'finish' && received === 0) finish() })
  onTerm(() => s.close())
}

drivers[a.kind]().then((d) => (a.role === 'pub' ? runPub(d) : runSub(d))).catch((err) => {
  emit({ type: 'skip', reason: String(err.message || err) })
  process.exit(0)
})

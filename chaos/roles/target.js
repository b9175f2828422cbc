'use strict'
// Role: our Broker on --addr serving a real Worker ('echo') and Client in the same process, as a
// target for hostile peers. Commands: probe -> {ok, ms} (a real request, 1 s timeout);
// stats -> broker.stats(), rss, fds.
const { Broker, Worker, Client } = require('../..')
const { args, emit, commands, rssMb, fds } = require('./common')

const a = args()
const broker = new Broker(a.addr, { heartbeat: 200, intch: false, handshakeTimeout: a.handshake || 1500 })
broker.on('error', (err) => emit({ event: 'error', code: err.code || String(err) }))
broker.start(() => {
  const worker = new Worker(a.addr, 'echo', { heartbeat: 200 })
  worker.on('request', (data, reply) => reply.end(data))
  worker.on('error', () => {})
  worker.start()
  const client = new Client(a.addr, { heartbeat: 200 })
  client.on('error', () => {})
  client.start()
  commands(async (cmd) => {
    if (cmd.cmd === 'probe') {
      const t0 = Date.now()
      try {
        const got = await client.call('echo', 'p' + cmd.id, { timeout: 1000 })
        return { ok: got === 'p' + cmd.id, ms: Date.now() - t0 }
      } catch (err) {
        return { ok: false, code: String(err.code || err), ms: Date.now() - t0 }
      }
    }
    if (cmd.cmd === 'stats') return { stats: broker.stats(), rss: rssMb(), fds: fds() }
  })
  emit({ event: 'started' })
})

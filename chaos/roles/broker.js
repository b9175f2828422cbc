'use strict'
// Role: our Broker on --addr (heartbeat --heartbeat ms). Commands: stats -> broker.stats(), rss, fds.
const { Broker } = require('../..')
const { args, emit, commands, rssMb, fds } = require('./common')

const a = args()
const broker = new Broker(a.addr, { heartbeat: a.heartbeat || 500, intch: false })
broker.on('error', (err) => emit({ event: 'error', code: err.code || String(err) }))
broker.start(() => emit({ event: 'started', at: Date.now() }))
commands((cmd) => {
  if (cmd.cmd === 'stats') return { stats: broker.stats(), rss: rssMb(), fds: fds() }
})
process.on('SIGTERM', () => broker.stop(() => process.exit(0)))

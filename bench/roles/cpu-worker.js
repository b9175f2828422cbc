'use strict'
// For bench/worker-cpu.js: a Worker that answers every request with reply.end(data) and reports its
// CPU time over --n requests after --warm. Speaks the fault suite's role protocol (JSON lines).
const { Worker } = require('../..')
const { args, emit, commands } = require('../../chaos/roles/common')

const a = args()
const worker = new Worker(a.addr, a.service || 'svc', { heartbeat: 1000, concurrency: -1 })
let received = 0
let start = null
worker.on('request', (data, reply) => {
  received++
  if (received === a.warm) start = { cpu: process.cpuUsage(), at: process.hrtime.bigint() }
  else if (received === a.warm + a.n) {
    const cpu = process.cpuUsage(start.cpu)
    const s = Number(process.hrtime.bigint() - start.at) / 1e9
    const per = 1e5 / a.n / 1000
    emit({ event: 'done', cpuMsPer100k: (cpu.user + cpu.system) * per, userMsPer100k: cpu.user * per, systemMsPer100k: cpu.system * per, reqPerS: a.n / s })
  }
  reply.end(data)
})
worker.on('connect', () => emit({ event: 'connect' }))
worker.start()
commands(() => undefined)
process.on('SIGTERM', () => { worker.stop(); process.exit(0) })

'use strict'
// Role: a Worker for --service at --addr. --mode echo (answers `name:data` after --delay ms),
// ignore-half (answers even numbers, never odd ones), hang (never answers).
// Emits connect/disconnect with times; with --log, one line per request.
const { Worker } = require('../..')
const { args, emit, commands, rssMb, fds } = require('./common')

const a = args()
const name = a.name || 'w'
const delay = a.delay || 0
const worker = new Worker(a.addr, a.service || 'svc', { heartbeat: a.heartbeat || 500, reconnect: a.reconnect || 100, concurrency: a.concurrency === undefined ? -1 : a.concurrency })
// --cost ms: a slow handler (busy-waits before answering) for --slow-ms after the first request.
const { performance } = require('node:perf_hooks')
let slowUntil = null
let served = 0
let received = 0
worker.on('request', (data, reply) => {
  received++
  if (a.cost) {
    if (slowUntil === null) slowUntil = Date.now() + (a['slow-ms'] || 5000)
    if (Date.now() < slowUntil) { const t = performance.now() + a.cost; while (performance.now() < t) { /* slow */ } }
  }
  if (a.log) emit({ event: 'request', data })
  if (a.mode === 'hang') return
  if (a.mode === 'ignore-half' && typeof data === 'number' && data % 2 === 1) return
  const answer = () => { served++; reply.end(`${name}:${data}`) }
  if (delay > 0) setTimeout(answer, delay)
  else answer()
})
worker.on('error', () => {})
worker.on('connect', () => emit({ event: 'connect', at: Date.now() }))
worker.on('disconnect', () => emit({ event: 'disconnect', at: Date.now() }))
worker.start()
commands((cmd) => {
  if (cmd.cmd === 'stats') {
    // With --expose-gc and {gc: true}: the JS heap still in use after a full collection.
    if (cmd.gc && global.gc) global.gc()
    const m = process.memoryUsage()
    const mb = (x) => Math.round(x / 104857.6) / 10
    return { rss: rssMb(), heapMb: m.heapUsed / 1048576, mem: { heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) }, fds: fds(), reqs: worker.reqs.size, served, received }
  }
})
process.on('SIGTERM', () => { worker.stop(); process.exit(0) })

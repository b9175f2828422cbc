'use strict'
// Role: a Worker for --service at --addr. --mode echo (answers `name:data` after --delay ms),
// ignore-half (answers even numbers, never odd ones), hang (never answers).
// Emits connect/disconnect with times; with --log, one line per request.
const { Worker } = require('../..')
const { args, emit, commands, rssMb, fds } = require('./common')

const a = args()
const name = a.name || 'w'
const delay = a.delay || 0
const worker = new Worker(a.addr, a.service || 'svc', { heartbeat: a.heartbeat || 500, reconnect: a.reconnect || 100, concurrency: -1 })
let served = 0
let received = 0
worker.on('request', (data, reply) => {
  received++
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
  if (cmd.cmd === 'stats') return { rss: rssMb(), fds: fds(), reqs: worker.reqs.size, served, received }
})
process.on('SIGTERM', () => { worker.stop(); process.exit(0) })

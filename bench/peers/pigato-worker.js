'use strict'
// Bench worker process: answers every request with reply.end(inp + 'FINAL').
// Usage: node bench/peers/pigato-worker.js --impl pigato|zmqbus --addr tcp://127.0.0.1:55555
//          [--service echo] [--concurrency 100]
// Prints {"event":"ready"} once the broker acknowledged it.
const { parseArgs, loadImpl, printJson, onShutdown, watchdog } = require('./common')

const args = parseArgs(undefined, { impl: 'pigato', addr: 'tcp://127.0.0.1:55555', service: 'echo', concurrency: 100, max_ms: 600000 })
watchdog(args.max_ms)
const { Worker } = loadImpl(args.impl)
const worker = new Worker(args.addr, args.service, { concurrency: args.concurrency })
let served = 0
worker.on('error', (err) => printJson({ event: 'error', error: String(err) }))
worker.on('request', (inp, reply) => {
  served += 1
  reply.end(inp + 'FINAL')
})
worker.once('connect', () => printJson({ event: 'ready', role: 'worker', impl: args.impl, id: worker.socketId, pid: process.pid }))
worker.start()
onShutdown(() => {
  printJson({ event: 'stopped', role: 'worker', served })
  worker.start = () => {} // pigato may restart on a late DISCONNECT
  worker.stop()
})

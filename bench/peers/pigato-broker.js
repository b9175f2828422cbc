'use strict'
// Bench broker process. Usage:
//   node bench/peers/pigato-broker.js --impl pigato|zmqbus --addr tcp://127.0.0.1:55555 [--intch tcp://127.0.0.1:55556]
// Prints {"event":"ready"} once bound; stops on SIGTERM or when stdin closes.
const { parseArgs, loadImpl, printJson, onShutdown, watchdog } = require('./common')

const args = parseArgs(undefined, { impl: 'pigato', addr: 'tcp://127.0.0.1:55555', max_ms: 600000 })
watchdog(args.max_ms)
const { Broker } = loadImpl(args.impl)
const conf = {}
if (args.intch) conf.intch = args.intch
if (args.heartbeat) conf.heartbeat = args.heartbeat
const broker = new Broker(args.addr, conf)
broker.on('error', (err) => printJson({ event: 'error', error: String(err) }))
broker.on('start', () => printJson({ event: 'ready', role: 'broker', impl: args.impl, addr: args.addr, pid: process.pid }))
broker.start()
onShutdown(() => new Promise((resolve) => {
  broker.on('stop', resolve)
  broker.stop()
  setTimeout(resolve, 1000).unref()
}))

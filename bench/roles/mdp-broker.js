'use strict'
// Role: a pigato-API broker (--impl ours|pigato) bound on --endpoint.
// Prints {type:'ready'} once started, stops on SIGTERM.
const { parseArgs, emit, loadMdp, onTerm, failLoudly } = require('./common')

failLoudly()
const a = parseArgs()
const { Broker } = loadMdp(a.impl)
const broker = new Broker(a.endpoint, { heartbeat: a.heartbeat || 2500 })
// pigato's start() takes no callback: both emit 'start'.
broker.once('start', () => emit({ type: 'ready', pid: process.pid }))
broker.start()
onTerm(() => broker.stop())

'use strict'
// Role: a pigato-API worker (--impl ours|pigato) for --service on --endpoint.
// --mode echo answers `inp + 'FINAL'` at once; --mode hold keeps every request
// until the command {cmd:'release'}, and prints {type:'held', n} when it holds
// --expect of them. --id names the worker in its replies (failover).
const { parseArgs, emit, onCommand, loadMdp, onTerm, failLoudly } = require('./common')

failLoudly()
const a = parseArgs()
const { Worker } = loadMdp(a.impl)
const conf = { heartbeat: a.heartbeat || 2500, reconnect: a.reconnect || 1000 }
if (a.concurrency) conf.concurrency = a.concurrency
const worker = new Worker(a.endpoint, a.service || 'echo', conf)
const held = []
let served = 0

worker.on('request', (inp, reply) => {
  served++
  if (a.mode === 'hold') {
    held.push([inp, reply])
    if (held.length === a.expect) emit({ type: 'held', n: held.length })
    return
  }
  reply.end(a.id ? String(a.id) : inp + 'FINAL')
})
worker.on('error', (err) => emit({ type: 'warn', error: String(err) }))
worker.start()
emit({ type: 'ready', pid: process.pid })

onCommand((c) => {
  if (c.cmd === 'release') {
    for (const [inp, reply] of held.splice(0)) reply.end(inp + 'FINAL')
    emit({ type: 'released' })
  } else if (c.cmd === 'count') {
    emit({ type: 'count', served, held: held.length })
  }
})
onTerm(() => worker.stop())

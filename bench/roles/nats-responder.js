'use strict'
// Role: a NATS responder on subject 'echo' (queue group 'workers') against
// nats-server on --port. --mode echo answers `inp + 'FINAL'`; --mode hold keeps
// requests until {cmd:'release'} and prints {type:'held', n} at --expect;
// --id answers with that name instead (failover).
const { connect } = require('nats')
const { parseArgs, emit, onCommand, onTerm, failLoudly } = require('./common')

failLoudly()
const a = parseArgs()
const enc = new TextEncoder()
const dec = new TextDecoder()

async function main () {
  const nc = await connect({ servers: `127.0.0.1:${a.port}` })
  const held = []
  nc.subscribe('echo', {
    queue: 'workers',
    callback: (err, msg) => {
      if (err) return
      if (a.mode === 'hold') {
        held.push(msg)
        if (held.length === a.expect) emit({ type: 'held', n: held.length })
      } else {
        msg.respond(enc.encode(a.id ? String(a.id) : dec.decode(msg.data) + 'FINAL'))
      }
    }
  })
  await nc.flush()
  emit({ type: 'ready', pid: process.pid })
  onCommand((c) => {
    if (c.cmd === 'release') {
      for (const msg of held.splice(0)) msg.respond(enc.encode(dec.decode(msg.data) + 'FINAL'))
      emit({ type: 'released' })
    }
  })
  onTerm(() => nc.close())
}
main()

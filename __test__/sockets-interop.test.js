'use strict'
// Interop with libzmq 4.3 (npm `zeromq`, through its `zeromq/v5-compat` API), both directions
// for every pattern: our socket binding with libzmq connecting, and libzmq binding with ours
// connecting; over tcp and ipc (inproc cannot cross implementations).
const { test } = require('node:test')
const h = require('./sockets-helpers')

const skip = h.libzmq ? false : 'zeromq (libzmq) is not installed'
const patterns = { 'REQ/REP': h.reqRep, 'DEALER/ROUTER': h.dealerRouter, 'PUSH/PULL': h.pushPull, 'PUB/SUB': h.pubSub }

for (const proto of ['tcp', 'ipc']) {
  for (const [name, body] of Object.entries(patterns)) {
    test(`${name} over ${proto}: ours binds, libzmq connects`, { timeout: 15000, skip }, () => body(h.ours, h.libzmq, proto))
    test(`${name} over ${proto}: libzmq binds, ours connects`, { timeout: 15000, skip }, () => body(h.libzmq, h.ours, proto))
  }
}

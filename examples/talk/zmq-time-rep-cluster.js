'use strict'
// The talk's REP cluster: a ROUTER faces clients over tcp, a DEALER binds ipc, and REP workers
// connect to the DEALER; the process forwards between ROUTER and DEALER (DEALER = parallel REQ,
// ROUTER = parallel REP). Answers like zmq-time-rep.js; exits after `count` replies.
// Usage: node zmq-time-rep-cluster.js [endpoint] [workers] [count]
const path = require('path')
const os = require('os')
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5433'
const workers = Number(process.argv[3] || 3)
const count = Number(process.argv[4] || 6)
const ipc = `ipc://${path.join(os.tmpdir(), `zmq-time-cluster-${process.pid}.ipc`)}`

const router = zmq.socket('router').bind(endpoint)
const dealer = zmq.socket('dealer').bind(ipc)
router.on('message', (...frames) => dealer.send(frames))
let answered = 0
const reps = []
dealer.on('message', (...frames) => {
  router.send(frames)
  if (++answered === count) {
    for (const s of [router, dealer, ...reps]) s.close()
  }
})

for (let i = 0; i < workers; i++) {
  const responder = zmq.socket('rep').connect(ipc)
  responder.on('message', (data) => {
    console.log(`worker ${i} received request from ${JSON.parse(data).pid}`)
    responder.send(JSON.stringify({ pid: process.pid, worker: i, timestamp: Date.now() }))
  })
  reps.push(responder)
}
console.log(`cluster of ${workers} workers answering on ${endpoint}`)

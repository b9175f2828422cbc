'use strict'
// The talk's time requester: sends `count` requests at once (a REQ socket sends them one after
// another as replies come back) and exits after the last reply.
// Usage: node zmq-time-req.js [endpoint] [count]
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5433'
const count = Number(process.argv[3] || 3)

const requester = zmq.socket('req')
let replies = 0
requester.on('message', (data) => {
  const reply = JSON.parse(data)
  console.log(`received time ${reply.timestamp} from ${reply.pid}`)
  if (++replies === count) requester.close()
})
requester.connect(endpoint)
for (let i = 1; i <= count; i++) {
  console.log(`sending request ${i}`)
  requester.send(JSON.stringify({ pid: process.pid }))
}

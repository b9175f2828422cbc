'use strict'
// The talk's time responder: answers {pid} requests with the current time.
// Usage: node zmq-time-rep.js [endpoint] [count]   (exits after `count` replies)
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5433'
const count = Number(process.argv[3] || 3)

const responder = zmq.socket('rep')
let answered = 0
responder.on('message', (data) => {
  const request = JSON.parse(data)
  console.log(`received request from ${request.pid}`)
  responder.send(JSON.stringify({ pid: process.pid, timestamp: Date.now() }))
  if (++answered === count) responder.close()
})
responder.bind(endpoint, (err) => {
  if (err) throw err
  console.log(`listening for time requests on ${endpoint}`)
})

'use strict'
// The talk's beacon publisher: publishes {pid, timestamp} on topic 'beacon' every 100 ms.
// Usage: node zmq-beacon-pub.js [endpoint] [count]   (stops after `count` beacons)
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5432'
const count = Number(process.argv[3] || 30)

const publisher = zmq.socket('pub')
publisher.bindSync(endpoint)
console.log(`publishing beacons on ${endpoint}`)
let sent = 0
const timer = setInterval(() => {
  publisher.send(['beacon', JSON.stringify({ pid: process.pid, timestamp: Date.now() })])
  if (++sent === count) {
    clearInterval(timer)
    publisher.close()
    console.log(`published ${sent} beacons`)
  }
}, 100)

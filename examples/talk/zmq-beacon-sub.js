'use strict'
// The talk's beacon subscriber: prints beacons; exits after `count` of them (or 10 s).
// Usage: node zmq-beacon-sub.js [endpoint] [count]
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5432'
const count = Number(process.argv[3] || 5)

const subscriber = zmq.socket('sub')
subscriber.subscribe('beacon')
subscriber.connect(endpoint)
let seen = 0
const giveUp = setTimeout(() => { console.log('no more beacons'); subscriber.close() }, 10000)
subscriber.on('message', (topic, data) => {
  const beacon = JSON.parse(data)
  console.log(`beacon from ${beacon.pid} at ${beacon.timestamp}`)
  if (++seen === count) {
    clearTimeout(giveUp)
    subscriber.close()
  }
})

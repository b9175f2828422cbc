'use strict'
// The talk's work queue producer: binds PUSH, waits briefly for pullers (the "first joiner"
// would otherwise take every job), then pushes `jobs` jobs and closes (linger flushes them).
// Usage: node zmq-work-push.js [endpoint] [jobs] [waitMs]
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5434'
const jobs = Number(process.argv[3] || 30)
const waitMs = Number(process.argv[4] || 500)

const pusher = zmq.socket('push')
pusher.bindSync(endpoint)
setTimeout(() => {
  for (let i = 0; i < jobs; i++) pusher.send(JSON.stringify({ details: `job ${i}` }))
  console.log(`pushed ${jobs} jobs`)
  pusher.close()
}, waitMs)

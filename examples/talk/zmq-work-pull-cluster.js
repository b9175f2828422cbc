'use strict'
// The talk's pull cluster: several PULL workers share jobs round-robin; the process prints
// how many each got and exits once `jobs` jobs are done (or after 10 s).
// Usage: node zmq-work-pull-cluster.js [endpoint] [workers] [jobs]
const zmq = require('../../zmq')
const endpoint = process.argv[2] || 'tcp://127.0.0.1:5434'
const workers = Number(process.argv[3] || 3)
const jobs = Number(process.argv[4] || 30)

const counts = new Array(workers).fill(0)
const pullers = []
let done = 0
const finish = () => {
  clearTimeout(giveUp)
  counts.forEach((n, i) => console.log(`worker ${i} did ${n} jobs`))
  console.log(`done ${done} jobs`)
  for (const p of pullers) p.close()
}
const giveUp = setTimeout(finish, 10000)
for (let i = 0; i < workers; i++) {
  const puller = zmq.socket('pull').connect(endpoint)
  puller.on('message', (data) => {
    JSON.parse(data)
    counts[i]++
    if (++done === jobs) finish()
  })
  pullers.push(puller)
}

'use strict'
// Demo on loopback: a broker, an echo worker with partial replies, and a client, in one process.
const { Broker, Worker, Client } = require('..')

const addr = 'tcp://127.0.0.1:' + (20000 + (process.pid % 20000))
const broker = new Broker(addr.replace('127.0.0.1', '*'), { intch: 'inproc://demo-intch' })
const worker = new Worker(addr, 'echo')
const client = new Client(addr)

worker.on('request', (data, reply) => {
  reply.write('partial: ' + data)
  reply.end(data + ' FINAL')
})

broker.start(async () => {
  worker.start()
  client.start()
  const stream = client.request('echo', 'hello', { timeout: 5000 })
  stream.on('data', (d) => console.log('stream data:', d))
  stream.on('end', async () => {
    const final = await client.call('echo', 'promise', { timeout: 5000 })
    console.log('call() resolved:', final)
    const t0 = process.hrtime.bigint()
    const n = 20000
    await Promise.all(Array.from({ length: n }, (_, i) => client.call('echo', i)))
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    console.log(`${n} requests in ${s.toFixed(3)} s (${Math.round(n / s)} req/s, one process, all on loopback)`)
    client.stop()
    worker.stop()
    broker.stop(() => console.log('demo done'))
  })
})

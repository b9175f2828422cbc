'use strict'
// The original pigato (npm 0.0.46) as a test peer, on zeromq@6 through the
// `zmq` shim in test-peers/zmq-shim: the shim's two bridges, and a
// Broker + Worker + Client request/reply over tcp and inproc.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zmq')
const pigato = require('pigato')
const { uniqAddress, captureEvent, withTimeout } = require('./helpers')

describe('zmq shim', () => {
  it('resolves to the shim for pigato and exposes the v5 socket API', () => {
    assert.match(require('zmq/package.json').version, /shim/)
    assert.equal(typeof zmq.socket, 'function')
  })

  it('ignores identities on PUB/SUB sockets and keeps them on DEALER', () => {
    const pub = zmq.socket('pub')
    const sub = zmq.socket('sub')
    const dealer = zmq.socket('dealer')
    try {
      pub.identity = 'p'
      sub.identity = 's'
      dealer.identity = Buffer.from('d-1')
      assert.equal(dealer.identity.toString(), 'd-1')
    } finally {
      for (const s of [pub, sub, dealer]) s.close()
    }
  })

  it('reports socket._zmq.state as READY, then CLOSED after close()', () => {
    const s = zmq.socket('dealer')
    assert.equal(s._zmq.state, zmq.STATE_READY)
    s.close()
    assert.equal(s._zmq.state, zmq.STATE_CLOSED)
  })
})

for (const transport of ['tcp', 'inproc']) {
  it(`pigato Broker + Worker + Client answer a request over ${transport}`, async () => {
    const addr = await uniqAddress(transport)
    const broker = new pigato.Broker(addr, { heartbeat: 100, intch: await uniqAddress('tcp') })
    const worker = new pigato.Worker(addr, 'echo', { heartbeat: 100 })
    const client = new pigato.Client(addr, { heartbeat: 100 })
    try {
      const started = captureEvent(broker, 'start', 2000)
      broker.start()
      await started
      worker.on('request', (inp, reply) => reply.end(inp + 'FINAL'))
      worker.start()
      client.start()
      const data = await withTimeout(new Promise((resolve, reject) => {
        client.request('echo', 'hi', undefined, (err, d) => (err ? reject(err) : resolve(d)))
      }), 2000, 'request')
      assert.equal(data, 'hiFINAL')
    } finally {
      // pigato may restart a stopped worker/client (see parity/harness.js).
      worker.start = () => {}
      client.start = () => {}
      client.stop()
      worker.stop()
      const stopped = captureEvent(broker, 'stop', 2000)
      broker.stop()
      await stopped
    }
  })
}

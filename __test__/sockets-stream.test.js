'use strict'
// ZMQ_STREAM: raw TCP peers as `[id, bytes]`, an empty frame when a connection opens and when it
// closes, `[id, ""]` to close one, EHOSTUNREACH for an unknown id; against node's `net` sockets.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const h = require('./sockets-helpers')

const z = h.ours

/** The next message of `sock`, as [id Buffer, data string], within 5 s. */
async function next (sock) {
  const [m] = await h.collect(sock, 1, 5000, 'stream message')
  return [m[0], m[1].toString()]
}

test('STREAM bound: a raw tcp client opens, talks, is answered, and is closed by the socket', { timeout: 10000 }, async () => {
  const s = z.socket('stream')
  let client
  try {
    const ep = h.bindHere(z, s, 'tcp')
    const [host, port] = ep.replace('tcp://', '').split(':')
    client = net.connect(Number(port), host)
    const [id, opened] = await next(s)
    assert.equal(opened, '')
    assert.equal(id.length, 5)
    client.write('hello')
    const [id2, data] = await next(s)
    assert.ok(id2.equals(id))
    assert.equal(data, 'hello')
    const got = new Promise((resolve) => client.once('data', (d) => resolve(d.toString())))
    s.send([id, 'world'])
    assert.equal(await h.within(5000, 'raw reply', got), 'world')
    const ended = new Promise((resolve) => client.once('end', resolve))
    // Listening before the close: the socket's event may come before the client sees its 'end'.
    const closedEvent = next(s)
    s.send([id, ''])
    await h.within(5000, 'closed by the socket', ended)
    const [, closed] = await closedEvent
    assert.equal(closed, '')
    const err = await new Promise((resolve) => {
      s.once('error', resolve)
      s.send([id, 'gone'])
    })
    assert.equal(err.code, 'EHOSTUNREACH')
  } finally {
    if (client) client.destroy()
    s.close()
  }
})

test('STREAM connecting: reaches a raw tcp server and sees it close', { timeout: 10000 }, async () => {
  const peers = []
  const server = net.createServer((c) => {
    peers.push(c)
    c.on('data', (d) => c.write('echo:' + d))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const s = z.socket('stream')
  try {
    s.connect(`tcp://127.0.0.1:${server.address().port}`)
    const [id, opened] = await next(s)
    assert.equal(opened, '')
    s.send([id, 'ping'])
    assert.deepEqual(await next(s), [id, 'echo:ping'])
    peers[0].end()
    assert.deepEqual(await next(s), [id, ''])
  } finally {
    s.close()
    for (const c of peers) c.destroy()
    server.close()
  }
})

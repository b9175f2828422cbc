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

/** Records the monitor events of `sock` as [name, value, endpoint]; `until(pred)` waits for one (5 s). */
function monitorEvents (sock) {
  const seen = []
  const names = ['connect', 'connect_delay', 'connect_retry', 'listen', 'bind_error', 'accept', 'close', 'disconnect']
  for (const name of names) sock.on(name, (value, ep) => seen.push([name, value, ep]))
  sock.monitor(10, 0)
  seen.until = async (pred, what) => {
    const t0 = Date.now()
    while (!seen.some(pred)) {
      if (Date.now() - t0 > 5000) throw new Error(`no ${what} event; saw ${JSON.stringify(seen)}`)
      await h.sleep(10)
    }
    return seen.find(pred)
  }
  return seen
}

test('STREAM monitor(): listen, accept and disconnect of a raw client; bind_error on a port in use', { timeout: 10000 }, async () => {
  const s = z.socket('stream')
  const other = z.socket('stream')
  let client
  try {
    const events = monitorEvents(s)
    const otherEvents = monitorEvents(other)
    const ep = h.bindHere(z, s, 'tcp')
    const [host, port] = ep.replace('tcp://', '').split(':')
    const [, listenFd, listenEp] = await events.until((e) => e[0] === 'listen', 'listen')
    assert.ok(listenFd > 0)
    assert.equal(listenEp, ep)
    const opened = next(s) // the connection's opening [id, ""]
    client = net.connect(Number(port), host)
    const [, acceptFd] = await events.until((e) => e[0] === 'accept', 'accept')
    assert.ok(acceptFd > 0 && acceptFd !== listenFd)
    await opened
    client.end()
    const [, goneFd, goneEp] = await events.until((e) => e[0] === 'disconnect', 'disconnect')
    assert.deepEqual([goneFd, goneEp], [acceptFd, ep])
    assert.throws(() => other.bindSync(ep), (err) => err.code === 'EADDRINUSE')
    const [, errno, address] = await otherEvents.until((e) => e[0] === 'bind_error', 'bind_error')
    assert.equal(errno, 98)
    assert.equal(address, `${host}:${port}`)
  } finally {
    if (client) client.destroy()
    h.closeAll(s, other)
  }
})

test('STREAM monitor(): a dialled raw server is connect; when it goes, disconnect then connect_retry', { timeout: 10000 }, async () => {
  const d = z.socket('stream')
  const accepted = []
  const server = net.createServer((c) => {
    accepted.push(c)
    c.on('error', () => {})
  })
  try {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const events = monitorEvents(d)
    d.setsockopt(z.ZMQ_RECONNECT_IVL, 20)
    const ep = `tcp://127.0.0.1:${server.address().port}`
    d.connect(ep)
    const [, fd, connected] = await events.until((e) => e[0] === 'connect', 'connect')
    assert.ok(fd > 0)
    assert.equal(connected, ep)
    server.close()
    for (const c of accepted) c.destroy()
    const [, goneFd, goneEp] = await events.until((e) => e[0] === 'disconnect', 'disconnect')
    assert.deepEqual([goneFd, goneEp], [fd, ep])
    const [, pause, retried] = await events.until((e) => e[0] === 'connect_retry', 'connect_retry')
    assert.deepEqual([pause, retried], [20, ep])
  } finally {
    server.close()
    h.closeAll(d)
  }
})

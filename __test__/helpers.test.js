'use strict'
// The shared test helpers themselves: endpoints, bounded waits, child processes.

const path = require('node:path')
const { EventEmitter } = require('node:events')
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers')

const ECHO = path.join(__dirname, 'fixtures', 'echo-lines.js')

describe('test helpers', () => {
  it('uniqAddress makes distinct endpoints for every transport', async () => {
    const tcp = await h.uniqAddress('tcp')
    assert.match(tcp, /^tcp:\/\/127\.0\.0\.1:\d+$/)
    const [ipc1, ipc2] = [await h.uniqAddress('ipc'), await h.uniqAddress('ipc')]
    assert.match(ipc1, /^ipc:\/\/\/.+\.sock$/)
    assert.notEqual(ipc1, ipc2)
    assert.match(await h.uniqAddress('inproc'), /^inproc:\/\/zmqbus-/)
    await assert.rejects(h.uniqAddress('udp'), /unknown transport/)
  })

  it('freePort returns a usable port number', async () => {
    const port = await h.freePort()
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536)
  })

  it('captureEvent resolves with the event arguments and rejects on timeout', async () => {
    const e = new EventEmitter()
    setTimeout(() => e.emit('x', 1, 2), 5)
    assert.deepEqual(await h.captureEvent(e, 'x', 500), [1, 2])
    await assert.rejects(h.captureEvent(e, 'never', 30), /timed out after 30 ms waiting for event 'never'/)
    assert.equal(e.listenerCount('never'), 0)
  })

  it('waitFor polls until truthy and rejects on timeout', async () => {
    let n = 0
    assert.equal(await h.waitFor(() => (++n >= 3 ? 'yes' : null), 500, 1), 'yes')
    await assert.rejects(h.waitFor(() => false, 30, 5, 'nothing'), /waiting for nothing/)
  })

  it('spawnNode reads JSON lines, sends commands and reports the exit', async () => {
    const p = h.spawnNode(ECHO, ['a', 1])
    assert.deepEqual(await p.waitJson((m) => m.ready), { ready: true, args: ['a', '1'] })
    p.send({ hello: 'world' })
    p.send({ n: 2 })
    // A later line can be awaited first; the earlier one stays available.
    assert.deepEqual(await p.waitJson((m) => m.echo && m.echo.n === 2), { echo: { n: 2 } })
    assert.deepEqual(await p.waitJson((m) => m.echo), { echo: { hello: 'world' } })
    p.send({ exit: 4 })
    assert.deepEqual(await p.exited, { code: 4, signal: null })
    await assert.rejects(p.waitLine(() => true, 100), /exited before/)
  })

  it('spawnNode kill() ends a running child', async () => {
    const p = h.spawnNode(ECHO)
    await p.waitJson((m) => m.ready)
    const { signal } = await p.kill()
    assert.equal(signal, 'SIGTERM')
  })
})

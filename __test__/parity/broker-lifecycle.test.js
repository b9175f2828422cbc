'use strict'
// Broker, worker and client lifecycle: start/stop events and conf hooks, and
// a broker restarted at the same address serving its old workers and
// clients again (they re-register by themselves).

const { describe, it, beforeEach, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { uniqAddress, captureEvent, waitFor, withTimeout, delay } = require('../helpers')
const { IMPL, pigato, createHarness, collect, HB } = require('./harness')

// pigato 0.0.46 may restart a stopped worker (the broker's DISCONNECT reply
// can arrive before the socket closes) and restarts a client whose liveness
// ran out from a timer stop() does not clear: both race, so not asserted.
const STOP_NOT_FINAL = IMPL === 'pigato' && 'pigato 0.0.46 can restart a stopped worker or client'
// Cases where pigato 0.0.46 is known to misbehave (the reason above) assert our documented
// behaviour and are not registered when the spec runs against pigato.
const itUnless = (pigatoBug) => (pigatoBug ? () => {} : it)

describe('broker stop/start events', () => {
  let h
  let addr

  beforeEach(async () => {
    h = createHarness()
    addr = await uniqAddress('tcp')
  })
  afterEach(() => h.stopAll())

  it('emits start and stop and calls conf.onStart / conf.onStop', async () => {
    const calls = []
    const intch = await uniqAddress('tcp')
    const b = new pigato.Broker(addr, {
      heartbeat: HB,
      intch,
      onStart: () => calls.push('onStart'),
      onStop: () => calls.push('onStop'),
    })
    h.adopt(b)
    b.on('start', () => calls.push('start'))
    b.on('stop', () => calls.push('stop'))
    const started = captureEvent(b, 'start', 2000)
    b.start()
    await started
    await h.stopBroker(b)
    assert.deepEqual(calls, ['onStart', 'start', 'onStop', 'stop'])
  })

  it('start(cb) and stop(cb) call back (ours; pigato 0.0.46 ignores the callbacks)', async () => {
    const intch = await uniqAddress('tcp')
    const b = h.adopt(new pigato.Broker(addr, { heartbeat: HB, intch }))
    if (IMPL === 'pigato') {
      // pigato's README shows broker.start(cb), but 0.0.46's start() and
      // stop() take no argument: only the events and conf hooks fire.
      const started = captureEvent(b, 'start', 2000)
      let called = false
      b.start(() => { called = true })
      await started
      const stopped = captureEvent(b, 'stop', 2000)
      h.forget(b)
      b.stop(() => { called = true })
      await stopped
      assert.equal(called, false)
      return
    }
    await withTimeout(new Promise((resolve) => b.start(resolve)), 2000, 'start(cb)')
    await withTimeout(new Promise((resolve) => b.stop(resolve)), 2000, 'stop(cb)')
    h.forget(b)
  })

  it('workers and clients emit start, connect, disconnect and stop', async () => {
    await h.broker(addr)
    const events = { w: [], c: [] }
    const w = new pigato.Worker(addr, 'ev', { heartbeat: HB, reconnect: HB })
    const c = new pigato.Client(addr, { heartbeat: HB, reconnect: HB })
    h.adoptActor(w)
    h.adoptActor(c)
    for (const name of ['start', 'connect', 'disconnect', 'stop']) {
      w.on(name, () => events.w.push(name))
      c.on(name, () => events.c.push(name))
    }
    const wConnected = captureEvent(w, 'connect', 2000)
    const cConnected = captureEvent(c, 'connect', 2000)
    w.start()
    c.start()
    await Promise.all([wConnected, cConnected])
    w.stop()
    c.stop()
    assert.deepEqual(events.w, ['start', 'connect', 'disconnect', 'stop'])
    assert.deepEqual(events.c, ['start', 'connect', 'disconnect', 'stop'])
  })

  it('serves old workers and clients again after a broker restart at the same address', async () => {
    const b = await h.broker(addr)
    const intch = b.conf.intch
    await h.worker(addr, 'again', (d, r) => r.end(d + '!'))
    const c = await h.client(addr)
    assert.deepEqual((await collect(c.request('again', 'one'))).data, ['one!'])

    await h.stopBroker(b)
    await h.broker(addr, { intch })
    // The worker notices (unknown to the new broker, or liveness) and
    // re-registers; a request sent meanwhile waits in the new broker's queue.
    const res = await waitFor(async () => {
      const r = await collect(c.request('again', 'two', { timeout: 400 }), 1500)
      return r.error ? null : r
    }, 2500, 10, 'a reply through the restarted broker')
    assert.deepEqual(res.data, ['two!'])
  })

  it('a broker can stop while requests are queued, without crashing', async () => {
    const b = await h.broker(addr)
    const c = await h.client(addr)
    const pending = collect(c.request('none', 'x', { timeout: 300 }), 2000)
    await h.stopBroker(b)
    const res = await pending
    assert.equal(res.error, 'C_TIMEOUT')
  })

  itUnless(STOP_NOT_FINAL)('a stopped worker stays stopped', async () => {
    await h.broker(addr)
    const w = await h.worker(addr, 'final', (d, r) => r.end(d))
    let starts = 0
    w.on('start', () => { starts += 1 })
    w.stop()
    await delay(6 * HB)
    assert.equal(starts, 0)
  })

  itUnless(STOP_NOT_FINAL)('a client stopped while its broker is away does not start again', async () => {
    const c = await h.client(addr, {}, { wait: false })
    await captureEvent(c, 'disconnect', 2000)
    let starts = 0
    c.on('start', () => { starts += 1 })
    c.stop()
    await delay(4 * HB)
    assert.equal(starts, 0)
  })
})

'use strict'
// Our connecting DEALER, REQ and PUSH keep working after their libzmq peer is closed and bound
// again on the same port (zmq.rs alone never reconnects them; the transport layer does).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./sockets-helpers')

const skip = h.libzmq ? false : 'zeromq (libzmq) is not installed'

/** Binds a new libzmq socket of `type` on `ep`, retrying while the old listener lets go. */
async function rebind (type, ep, setup) {
  for (let i = 0; i < 50; i++) {
    const s = h.libzmq.socket(type)
    try {
      s.bindSync(ep)
      setup(s)
      return s
    } catch (err) {
      s.close()
      await h.sleep(50)
    }
  }
  throw new Error(`could not bind ${ep} again`)
}

const cases = [
  ['dealer', 'router', (s) => s.on('message', (id, m) => s.send([id, 'ok:' + m]))],
  ['req', 'rep', (s) => s.on('message', (m) => s.send('ok:' + m))],
  ['push', 'pull', null]
]

for (const [ourType, peerType, serve] of cases) {
  test(`our ${ourType.toUpperCase()} survives a libzmq ${peerType.toUpperCase()} restart`, { timeout: 20000, skip }, async () => {
    const ours = h.ours.socket(ourType)
    let peer = h.libzmq.socket(peerType)
    try {
      const ep = h.bindHere(h.libzmq, peer, 'tcp')
      const pulled = []
      const lost = []
      const setup = serve || ((s) => s.on('message', (m) => pulled.push(m.toString())))
      setup(peer)
      ours.connect(ep)
      const roundTrip = async (tag) => {
        if (serve === null) {
          // zmq.rs PUSH notices a dead peer only when a write fails, so what it wrote into the
          // dead connection is lost (libzmq loses what sat in its pipe too): resend until through.
          let tries = 0
          await h.within(5000, `pull ${tag}`, (async () => {
            while (!pulled.includes(tag)) {
              if (tries++ % 20 === 0) ours.send(tag)
              await h.sleep(10)
            }
          })())
          lost.push(tries > 20 ? tag : null)
        } else {
          const got = h.collect(ours, 1, 5000, `reply to ${tag}`)
          ours.send(tag)
          const [frames] = await got
          assert.equal(frames[frames.length - 1].toString(), 'ok:' + tag)
        }
      }
      await roundTrip('first')
      peer.close()
      await h.sleep(300)
      peer = await rebind(peerType, ep, setup)
      await roundTrip('second')
      await roundTrip('third')
      if (serve === null) assert.equal(lost[2], null, 'after the reconnect nothing is lost')
    } finally {
      h.closeAll(ours, peer)
    }
  })
}

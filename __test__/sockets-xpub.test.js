'use strict'
// XPUB: publishes like PUB and hands the application every subscription and unsubscription
// its subscribers send (`[1, prefix...]` / `[0, prefix...]`), with our SUB or libzmq's.
const test = require('node:test')
const assert = require('node:assert/strict')
const z = require('../zmq')
const libzmq = require('zeromq/v5-compat')
const { uniqAddress, withTimeout, waitFor } = require('./helpers')

function nextMessage (sock, ms = 3000) {
  return withTimeout(new Promise((resolve) => sock.once('message', (...frames) => resolve(frames))), ms, 'message')
}

async function roundTrip (xpub, sub, label) {
  const subscribed = nextMessage(xpub)
  sub.subscribe('news')
  const [sub1] = await subscribed
  assert.deepEqual([...sub1], [1, ...Buffer.from('news')], `${label}: subscription reaches the XPUB`)
  // Publish until the subscription has reached the XPUB's filter on every link.
  const got = []
  sub.on('message', (...frames) => got.push(frames.map(String)))
  await waitFor(() => { xpub.send(['news', 'hello']); xpub.send(['sports', 'no']); return got.length > 0 }, 3000, 20, `${label}: delivery`)
  assert.deepEqual(got[0], ['news', 'hello'])
  assert.ok(got.every((f) => f[0] === 'news'), `${label}: the filter still applies`)
  const unsubscribed = nextMessage(xpub)
  sub.unsubscribe('news')
  const [unsub] = await unsubscribed
  assert.deepEqual([...unsub], [0, ...Buffer.from('news')], `${label}: unsubscription reaches the XPUB`)
}

for (const transport of ['tcp', 'ipc', 'inproc']) {
  test(`our XPUB and our SUB over ${transport}`, async () => {
    const ep = await uniqAddress(transport)
    const xpub = z.socket('xpub')
    xpub.bindSync(ep)
    const sub = z.socket('sub')
    sub.connect(ep)
    try {
      await roundTrip(xpub, sub, transport)
    } finally {
      sub.close(); xpub.close()
    }
  })
}

test('our XPUB serves a libzmq SUB', async () => {
  const ep = await uniqAddress('tcp')
  const xpub = z.socket('xpub')
  xpub.bindSync(ep)
  const sub = libzmq.socket('sub')
  sub.connect(ep)
  try {
    await roundTrip(xpub, sub, 'libzmq sub')
  } finally {
    sub.close(); xpub.close()
  }
})

test('a libzmq XPUB receives our SUB subscriptions and serves it', async () => {
  const ep = await uniqAddress('tcp')
  const xpub = libzmq.socket('xpub')
  xpub.bindSync(ep)
  const sub = z.socket('sub')
  sub.connect(ep)
  try {
    await roundTrip(xpub, sub, 'libzmq xpub')
  } finally {
    sub.close(); xpub.close()
  }
})

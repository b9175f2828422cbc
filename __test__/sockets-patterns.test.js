'use strict'
// Every pattern with our sockets on both ends, over tcp, ipc and inproc.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./sockets-helpers')

const patterns = { 'REQ/REP': h.reqRep, 'DEALER/ROUTER': h.dealerRouter, 'PUSH/PULL': h.pushPull, 'PUB/SUB': h.pubSub }

for (const proto of ['tcp', 'ipc', 'inproc']) {
  for (const [name, body] of Object.entries(patterns)) {
    test(`${name} over ${proto}, ours on both ends`, { timeout: 15000 }, () => body(h.ours, h.ours, proto))
  }
}

test('connect before bind works over inproc', { timeout: 10000 }, async () => {
  const pull = h.ours.socket('pull')
  const push = h.ours.socket('push')
  try {
    const ep = h.bindAddress('inproc')
    push.connect(ep)
    push.send('early')
    await h.sleep(50)
    pull.bindSync(ep)
    const [m] = await h.collect(pull, 1)
    assert.equal(m[0].toString(), 'early')
  } finally {
    h.closeAll(push, pull)
  }
})

test('reversed roles: PUSH and PUB bind, PULL and SUB connect; DEALER binds, REP connects', { timeout: 15000 }, async () => {
  const z = h.ours
  const push = z.socket('push')
  const pull = z.socket('pull')
  const dealer = z.socket('dealer')
  const rep = z.socket('rep')
  try {
    pull.connect(h.bindHere(z, push, 'tcp'))
    const got = h.collect(pull, 3)
    for (const x of ['a', 'b', 'c']) push.send(x)
    assert.deepEqual((await got).map(h.strs), [['a'], ['b'], ['c']])
    // The talk's REP cluster: workers connect to a DEALER that binds ipc.
    const ep = h.bindHere(z, dealer, 'ipc')
    rep.connect(ep)
    rep.on('message', (m) => rep.send('time:' + m))
    const replies = h.collect(dealer, 1)
    dealer.send(['', 'now'])
    const [[empty, body]] = await replies
    assert.equal(empty.length, 0)
    assert.equal(body.toString(), 'time:now')
  } finally {
    h.closeAll(push, pull, dealer, rep)
  }
})

test('several pullers share the work of one pusher', { timeout: 10000 }, async () => {
  const z = h.ours
  const push = z.socket('push')
  const pulls = [z.socket('pull'), z.socket('pull'), z.socket('pull')]
  try {
    const ep = h.bindHere(z, push, 'tcp')
    for (const p of pulls) p.connect(ep)
    await h.sleep(200)
    const counts = [0, 0, 0]
    const all = Promise.all(pulls.map((p, i) => new Promise((resolve) => p.on('message', () => { counts[i]++; resolve() }))))
    for (let i = 0; i < 60; i++) push.send(String(i))
    await h.within(5000, 'every puller gets work', all)
    assert.ok(counts.every((c) => c > 0), String(counts))
  } finally {
    h.closeAll(push, ...pulls)
  }
})

test('async iteration yields frames and ends at close', { timeout: 10000 }, async () => {
  const z = h.ours
  const pull = z.socket('pull')
  const push = z.socket('push')
  const ep = h.bindHere(z, pull, 'inproc')
  push.connect(ep)
  await push.send(['x', '1'])
  await push.send(['x', '2'])
  const seen = []
  for await (const frames of pull) {
    seen.push(h.strs(frames))
    if (seen.length === 2) pull.close()
  }
  assert.deepEqual(seen, [['x', '1'], ['x', '2']])
  push.close()
})

test('SNDMORE accumulates frames until the last part', { timeout: 10000 }, async () => {
  const z = h.ours
  const pull = z.socket('pull')
  const push = z.socket('push')
  try {
    push.connect(h.bindHere(z, pull, 'tcp'))
    const got = h.collect(pull, 1)
    push.send('a', z.ZMQ_SNDMORE)
    push.send(Buffer.from('b'), z.ZMQ_SNDMORE)
    push.send(7)
    assert.deepEqual(h.strs((await got)[0]), ['a', 'b', '7'])
  } finally {
    h.closeAll(push, pull)
  }
})

test('pause stops delivery and resume brings held messages', { timeout: 10000 }, async () => {
  const z = h.ours
  const pull = z.socket('pull')
  const push = z.socket('push')
  try {
    push.connect(h.bindHere(z, pull, 'tcp'))
    pull.pause()
    let n = 0
    pull.on('message', () => n++)
    for (let i = 0; i < 10; i++) push.send(String(i))
    await h.sleep(200)
    assert.equal(n, 0)
    pull.resume()
    await h.within(3000, 'resumed delivery', (async () => { while (n < 10) await h.sleep(10) })())
  } finally {
    h.closeAll(push, pull)
  }
})

test('XSUB subscribes by sending [1, prefix] messages', { timeout: 10000 }, async () => {
  const z = h.ours
  const pub = z.socket('pub')
  const xsub = z.socket('xsub')
  try {
    xsub.connect(h.bindHere(z, pub, 'tcp'))
    xsub.send(Buffer.from([1, ...Buffer.from('t')]))
    const seen = []
    xsub.on('message', (m) => seen.push(m.toString()))
    for (let i = 0; i < 100 && seen.length < 2; i++) {
      pub.send('other')
      pub.send('topic')
      await h.sleep(20)
    }
    assert.ok(seen.length >= 2 && seen.every((s) => s === 'topic'), String(seen))
  } finally {
    h.closeAll(pub, xsub)
  }
})

test('unbind and disconnect call back and stop the port', { timeout: 10000 }, async () => {
  const z = h.ours
  const pull = z.socket('pull')
  try {
    await new Promise((resolve, reject) => pull.bind('tcp://127.0.0.1:*', (err) => err ? reject(err) : resolve()))
    const ep = pull.last_endpoint
    assert.match(ep, /^tcp:\/\/127\.0\.0\.1:\d+$/)
    await new Promise((resolve, reject) => pull.unbind(ep, (err) => err ? reject(err) : resolve()))
    const err = await new Promise((resolve) => pull.unbind(ep, resolve))
    assert.equal(err.code, 'ENOENT')
  } finally {
    pull.close()
  }
})

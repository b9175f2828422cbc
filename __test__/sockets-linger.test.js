'use strict'
// close() right after a burst: ZMQ_LINGER (-1) keeps the socket until its queue is written, at the
// socket's full speed, and the receiver gets every message although the sender's connection ends while
// the receiver's queue is still full (what arrived with the end of the stream is kept, not dropped).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const h = require('./sockets-helpers')

const zmq = h.ours
const N = 200000

// The sender runs in its own process, as a producer that exits after close() would.
const SENDER = `
const zmq = require(${JSON.stringify(require.resolve('../zmq'))})
const push = zmq.socket('push')
push.connect(process.argv[1])
for (let i = 0; i < ${N}; i++) push.send(String(i))
push.close()
`

test('a PUSH that closes right after a burst delivers all of it to a PULL with a small RCVHWM', { timeout: 60000 }, async () => {
  const pull = zmq.socket('pull')
  let child = null
  try {
    pull.rcvhwm = 100
    const ep = h.bindHere(zmq, pull, 'tcp')
    let got = 0
    let inOrder = true
    const all = new Promise((resolve) => pull.on('message', (m) => {
      if (Number(m) !== got) inOrder = false
      if (++got === N) resolve()
    }))
    child = spawn(process.execPath, ['-e', SENDER, ep], { stdio: 'inherit' })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await h.within(45000, `all ${N} messages (got ${got})`, all)
    assert.equal(got, N)
    assert.ok(inOrder, 'in order')
    assert.equal(await h.within(10000, 'the sender exits after its close', exited), 0)
  } finally {
    if (child && child.exitCode === null) child.kill()
    pull.close()
  }
})

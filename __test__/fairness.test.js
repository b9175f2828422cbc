'use strict'
// A handler slower than its input must not starve the rest of the process: events reach JS in batches of at
// most 256 records, fewer when handlers are slow (about 2 ms of work a batch), and Node runs its timers and
// other I/O between batches (issue 14, chaos case 06).
const test = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('../zmq')

function busy (ms) {
  const end = process.hrtime.bigint() + BigInt(ms * 1e6)
  while (process.hrtime.bigint() < end);
}

test('a timer fires on time while a 2 ms message handler has 20,000 messages queued', async () => {
  const pull = zmq.socket('pull')
  const push = zmq.socket('push')
  pull.bindSync('tcp://127.0.0.1:0')
  push.connect(pull.getsockopt(zmq.ZMQ_LAST_ENDPOINT))
  let handled = 0
  pull.on('message', () => { handled++; busy(2) })
  try {
    for (let i = 0; i < 20000; i++) push.send('m' + i)
    // Wait until the flood reached the handler, then ask for a timer.
    while (handled === 0) await new Promise((resolve) => setImmediate(resolve))
    const asked = Date.now()
    const late = await new Promise((resolve) => setTimeout(() => resolve(Date.now() - asked - 100), 100))
    // One batch of 256 slow handlers is about 0.5 s; the whole queue would be 40 s.
    console.log(`# late ${late}`)
    assert.ok(late < 1500, `a 100 ms timer fired ${late} ms late; ${handled} messages handled by then`)
    assert.ok(handled < 20000, 'the timer ran before the queue was drained')
  } finally {
    pull.removeAllListeners('message')
    pull.close()
    push.close()
  }
})

test('a fast flood lets the loop turn: a 10 ms timer keeps ticking while 200,000 messages drain', () => {
  // In a child, so that the socket's whole delivery path (runtime thread -> JS thread) is the default one.
  const { spawnSync } = require('node:child_process')
  const path = require('node:path')
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'flood-drain.js')], { encoding: 'utf8', timeout: 90000 })
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.equal(out.handled, 200000)
  // Through a threadsafe function Node kept calling JS for up to 1,000 batches in a row: 0.8-1.5 s gaps.
  assert.ok(out.maxGapMs < 400, `the timer waited ${out.maxGapMs} ms behind the flood`)
})

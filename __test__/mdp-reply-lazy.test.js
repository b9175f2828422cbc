'use strict'
// The Worker's reply (lib/reply.js) builds its Writable only when a handler uses it as a stream
// (issue 20); whichever path a handler takes, what goes out and what the stream shows are those of
// an object-mode Writable built up front (the figures below are what the eager Reply did).
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { Writable, Readable, pipeline, finished } = require('node:stream')
const { Reply } = require('../lib/reply')

/** A reply over a fake worker; `log` collects what is sent and what the stream emits. */
function fixture () {
  const log = []
  const reqs = new Map()
  const worker = {
    reqs,
    conf: { heartbeat: 1000 },
    _reply: (type, req, status, data, opts) => log.push(`send ${type} ${status} ${JSON.stringify(data)} ${JSON.stringify(opts)}`),
    heartbeat: () => log.push('heartbeat')
  }
  const req = { slot: 1, ended: false, beat: Date.now() }
  reqs.set(req.slot, req)
  return { log, reqs, reply: new Reply(worker, req) }
}
const listen = (reply, log) => {
  for (const name of ['prefinish', 'finish', 'close', 'error', 'pipe', 'unpipe']) {
    reply.on(name, (x) => log.push(`${name}${x && x.code ? ' ' + x.code : ''}`))
  }
}
const settle = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms))
const built = (reply) => Object.prototype.hasOwnProperty.call(reply, '_writableState')
const state = (r) => `ended=${r.ended} writable=${r.writable} writableEnded=${r.writableEnded} writableFinished=${r.writableFinished} destroyed=${r.destroyed}`

describe('worker reply built lazily', () => {
  it('end(data) sends the final reply without building the stream', async () => {
    const { log, reqs, reply } = fixture()
    assert.ok(reply instanceof Writable)
    assert.equal(reply.active(), true)
    assert.equal(reply.end({ a: 1 }), reply)
    assert.equal(built(reply), false)
    assert.deepEqual(log, ['send 3 0 {"a":1} {}'])
    assert.equal(reply.ended, true)
    assert.equal(reply.active(), false)
    assert.equal(reqs.size, 0)
    await settle()
    assert.equal(built(reply), false)
    // Reading the stream's state builds it as a stream ended then would be.
    assert.equal(state(reply), 'ended=true writable=false writableEnded=true writableFinished=true destroyed=true')
    assert.equal(built(reply), true)
  })

  it('end() and end(null) send null; reply.opts goes along', () => {
    for (const arg of [[], [null]]) {
      const { log, reply } = fixture()
      reply.opts = { x: 1 }
      reply.end(...arg)
      assert.deepEqual(log, ['send 3 0 null {"x":1}'])
    }
  })

  it('error(), reject() and heartbeat() never build the stream', () => {
    const { log, reply } = fixture()
    reply.heartbeat()
    reply.error('bad')
    assert.deepEqual(log, ['heartbeat', 'send 3 -1 "bad" undefined'])
    assert.equal(reply.ended, false)
    assert.equal(reply.active(), false)
    const other = fixture()
    other.reply.reject('no')
    assert.deepEqual(other.log, ['send 7 0 "no" undefined'])
    assert.equal(built(reply) || built(other.reply), false)
  })

  it('listeners added in the tick of end() see finish and close; later ones see nothing', async () => {
    const now = fixture()
    now.reply.end('x')
    listen(now.reply, now.log)
    const later = fixture()
    later.reply.end('x')
    await settle(5)
    listen(later.reply, later.log)
    await settle()
    assert.deepEqual(now.log, ['send 3 0 "x" {}', 'finish', 'close'])
    assert.deepEqual(later.log, ['send 3 0 "x" {}'])
  })

  it('write() sends partials, then end() the final, with the stream events', async () => {
    const { log, reply } = fixture()
    listen(reply, log)
    log.push(`write ${reply.write('a')}`)
    reply.end('z')
    await settle()
    assert.deepEqual(log, ['send 6 0 "a" {}', 'write true', 'send 3 0 "z" {}', 'prefinish', 'finish', 'close'])
  })

  it('end(data, cb) and end(cb) call back once finished', async () => {
    const { log, reply } = fixture()
    reply.end('x', () => log.push('cb'))
    const other = fixture()
    other.reply.end(() => other.log.push('cb'))
    await settle()
    assert.deepEqual(log, ['send 3 0 "x" {}', 'cb'])
    assert.deepEqual(other.log, ['send 3 0 null {}', 'cb'])
  })

  it('a second end() or a write after end(): an error in the same tick, nothing later', async () => {
    const { log, reply } = fixture()
    reply.end('x')
    reply.on('error', (err) => log.push(err.code))
    reply.end('y')
    const later = fixture()
    later.reply.end('x')
    await settle(5)
    later.reply.on('error', (err) => later.log.push(err.code))
    later.log.push(`write ${later.reply.write('y')}`)
    await settle()
    assert.deepEqual(log, ['send 3 0 "x" {}', 'ERR_STREAM_WRITE_AFTER_END'])
    assert.deepEqual(later.log, ['send 3 0 "x" {}', 'write false'])
  })

  it('a readable piped into it and pipeline() stream partials, then the final', async () => {
    const { log, reply } = fixture()
    listen(reply, log)
    Readable.from(['a', 'b']).pipe(reply)
    await settle()
    assert.deepEqual(log, ['pipe', 'send 6 0 "a" {}', 'send 6 0 "b" {}', 'send 3 0 null {}', 'prefinish', 'finish', 'unpipe', 'close'])
    const p = fixture()
    await new Promise((resolve) => pipeline(Readable.from([1, 2]), p.reply, (err) => { p.log.push(`done ${err}`); resolve() }))
    assert.deepEqual(p.log, ['send 6 0 1 {}', 'send 6 0 2 {}', 'send 3 0 null {}', 'done undefined'])
  })

  it('stream.finished() on an ended reply calls back', async () => {
    const { reply } = fixture()
    reply.end('x')
    await settle(5)
    await new Promise((resolve, reject) => finished(reply, (err) => (err ? reject(err) : resolve())))
  })
})

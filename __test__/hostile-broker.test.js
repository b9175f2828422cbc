'use strict'
// Hostile peers against our Broker's listening side (our own ZMTP engine), over raw TCP. The target is a
// child process that also serves a real worker and client. After each case: the process is alive, a real
// request is answered within a second, and stats().connections counted what was refused.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { uniqAddress, spawnNode, delay } = require('./helpers')

const TARGET = path.join(__dirname, 'fixtures', 'hostile-target.js')
const HANDSHAKE_MS = 1500

/** A ZMTP greeting: signature, version, mechanism, as-server 0. */
function greeting (mechanism = 'NULL', major = 3, minor = 1) {
  const g = Buffer.alloc(64)
  g[0] = 0xff
  g[8] = 1
  g[9] = 0x7f
  g[10] = major
  g[11] = minor
  g.write(mechanism, 12, 'ascii')
  return g
}

function property (name, value) {
  const v = Buffer.from(value)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(v.length)
  return Buffer.concat([Buffer.from([name.length]), Buffer.from(name), len, v])
}

/** NULL READY of a DEALER without identity. */
function ready () {
  const body = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), property('Socket-Type', 'DEALER'), property('Identity', '')])
  return Buffer.concat([Buffer.from([0x04, body.length]), body])
}

/** A frame header announcing `size` bytes (8-byte length), as a command or a data frame. */
function longHeader (size, command) {
  const h = Buffer.alloc(9)
  h[0] = command ? 0x06 : 0x02
  h.writeBigUInt64BE(size, 1)
  return h
}

/** A seeded PRNG (mulberry32), so a failing run can be replayed. */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('a broker facing hostile peers', () => {
  let target
  let port
  let probes = 0
  let startFds = 0

  before(async () => {
    const addr = await uniqAddress('tcp')
    port = Number(addr.split(':').pop())
    target = spawnNode(TARGET, [addr, HANDSHAKE_MS])
    await target.waitJson((m) => m.event === 'started', 5000)
    await probe()
    startFds = (await stats()).fds
  })
  after(async () => {
    if (target) await target.kill('SIGTERM')
  })

  async function stats () {
    target.send({ cmd: 'stats' })
    return target.waitJson((m) => m.event === 'stats', 3000)
  }

  /** The broker still answers a real request within a second. */
  async function probe () {
    const id = `p${++probes}`
    target.send({ cmd: 'probe', id })
    const got = await target.waitJson((m) => m.event === 'probe' && m.id === id, 3000)
    assert.ok(got.ok, `probe failed: ${JSON.stringify(got)}`)
    assert.ok(got.ms < 1000, `probe took ${got.ms} ms`)
  }

  /** Connects, writes `bytes`, and resolves true when the broker closes the connection (false at `waitMs`). */
  function attack (bytes, { waitMs = 3000, end = false } = {}) {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      let done = false
      const finish = (closed) => {
        if (done) return
        done = true
        clearTimeout(timer)
        s.destroy()
        resolve(closed)
      }
      const timer = setTimeout(() => finish(false), waitMs)
      s.on('connect', () => {
        if (bytes.length) s.write(bytes)
        if (end) s.end()
      })
      s.on('data', () => {})
      s.on('end', () => finish(true))
      s.on('close', () => finish(true))
      s.on('error', () => finish(true))
    })
  }

  /** Runs `fn`, then waits until the counter picked by `pick` grew by `by` (stats refresh every 100 ms). */
  async function counted (pick, by, fn) {
    const before = pick((await stats()).stats.connections)
    await fn()
    const deadline = Date.now() + 4000
    let now
    do {
      now = pick((await stats()).stats.connections)
      if (now - before >= by) break
      await delay(50)
    } while (Date.now() < deadline)
    assert.ok(now - before >= by, `counter went from ${before} to ${now}, expected +${by}`)
    await probe()
  }
  const refused = (reason) => (c) => c.refused[reason] || 0
  const ended = (c) => c.refusedTotal + c.handshakeEof

  for (const [name, size] of [['2^40', 1n << 40n], ['2^62', 1n << 62n]]) {
    it(`closes a connection whose frame announces ${name} bytes before the handshake`, async () => {
      await counted(refused('frame_too_large'), 1, async () => {
        assert.ok(await attack(Buffer.concat([greeting(), longHeader(size, true)])))
      })
    })
    it(`closes a connection whose frame announces ${name} bytes after the handshake`, async () => {
      await counted(refused('frame_too_large'), 1, async () => {
        assert.ok(await attack(Buffer.concat([greeting(), ready(), longHeader(size, false)])))
      })
    })
  }

  it('refuses an unknown mechanism', async () => {
    await counted(refused('unknown_mechanism'), 1, async () => {
      assert.ok(await attack(greeting('FOOBAR')))
    })
  })

  it('survives version 9.9 followed by random bytes', async () => {
    const rand = prng(99)
    const junk = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rand() * 256)))
    await counted(ended, 1, async () => {
      await attack(Buffer.concat([greeting('NULL', 9, 9), junk]), { waitMs: 500, end: true })
    })
  })

  it('counts a truncated greeting that leaves, and times out one that stays', async () => {
    await counted((c) => c.handshakeEof, 1, async () => {
      await attack(greeting().subarray(0, 30), { waitMs: 300, end: true })
    })
    await counted(refused('handshake_timeout'), 1, async () => {
      assert.ok(await attack(greeting().subarray(0, 30), { waitMs: HANDSHAKE_MS + 2000 }))
    })
  })

  it('closes a connection that repeats its greeting', async () => {
    await counted((c) => c.refusedTotal, 1, async () => {
      assert.ok(await attack(Buffer.concat([greeting(), greeting()])))
    })
  })

  it('survives seeded random bytes after a valid greeting on 300 connections', async () => {
    const rand = prng(20261207)
    const payloads = Array.from({ length: 300 }, () => {
      const n = 1 + Math.floor(rand() * 600)
      return Buffer.concat([greeting(), Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)))])
    })
    await counted(ended, 300, async () => {
      for (let i = 0; i < payloads.length; i += 50) {
        await Promise.all(payloads.slice(i, i + 50).map((p) => attack(p, { waitMs: 500, end: true })))
      }
    })
  })

  it('keeps serving while 1,000 connections never greet, and forgets them once closed', async () => {
    const sockets = []
    await counted((c) => c.handshakeEof + c.refusedTotal, 1000, async () => {
      await Promise.all(Array.from({ length: 1000 }, () => new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', resolve)
        s.on('error', resolve)
        s.on('data', () => {})
        sockets.push(s)
      })))
      await probe()
      for (const s of sockets) s.destroy()
    })
    const { stats: s } = await stats()
    assert.equal(s.connections.handshaking, 0, JSON.stringify(s.connections))
  })

  it('times out a peer that sends one byte a second, and serves meanwhile', async () => {
    await counted(refused('handshake_timeout'), 1, async () => {
      const s = net.connect(port, '127.0.0.1')
      s.on('error', () => {})
      s.on('data', () => {})
      const closed = new Promise((resolve) => s.on('close', resolve))
      const g = greeting()
      let closedAt = null
      closed.then(() => { closedAt = Date.now() })
      const t0 = Date.now()
      for (let i = 0; i < 4 && closedAt === null; i++) {
        s.write(g.subarray(i, i + 1))
        await probe()
        await delay(1000)
      }
      s.destroy()
      assert.ok(closedAt !== null && closedAt - t0 < HANDSHAKE_MS + 1000, 'the broker closed the slow peer')
    })
  })

  it('ends with only the real worker and client connected, and its descriptors back', async (t) => {
    const { stats: s, fds } = await stats()
    assert.equal(s.connections.active, 2, JSON.stringify(s.connections))
    assert.equal(s.workers, 1)
    assert.ok(fds <= startFds + 2, `descriptors: ${startFds} at start, ${fds} now`)
    t.diagnostic(`connections: ${JSON.stringify(s.connections)}`)
  })
})

'use strict'
// Role: hostile peers against --port on 127.0.0.1, over raw TCP. Commands:
//   kinds {repeat}            -> each malformed-greeting/frame attack `repeat` times: {sent, closedByServer}
//   random {seed, count, par} -> greeting + seeded random bytes on `count` connections: {sent, closedByServer}
//   silent {count}            -> opens `count` connections that never greet and keeps them: {open, failed, closedByServer}
//   release                   -> closes the silent connections
const net = require('node:net')
const { args, commands } = require('./common')

const a = args()
const port = a.port

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
function ready () {
  const body = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), property('Socket-Type', 'DEALER'), property('Identity', '')])
  return Buffer.concat([Buffer.from([0x04, body.length]), body])
}
function longHeader (size, command) {
  const h = Buffer.alloc(9)
  h[0] = command ? 0x06 : 0x02
  h.writeBigUInt64BE(size, 1)
  return h
}
/** mulberry32: a seeded PRNG, so a failing run can be replayed. */
function prng (seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Writes `bytes`; resolves true when the server closed the connection within `waitMs`. */
function attack (bytes, { waitMs = 1500, end = false } = {}) {
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
    s.on('connect', () => { if (bytes.length) s.write(bytes); if (end) s.end() })
    s.on('data', () => {})
    s.on('end', () => finish(true))
    s.on('close', () => finish(true))
    s.on('error', () => finish(true))
  })
}

async function inBatches (items, par, fn) {
  let closed = 0
  for (let i = 0; i < items.length; i += par) {
    const got = await Promise.all(items.slice(i, i + par).map(fn))
    closed += got.filter(Boolean).length
  }
  return closed
}

const silent = []
commands(async (cmd) => {
  if (cmd.cmd === 'kinds') {
    const rand = prng(cmd.seed || 99)
    const junk = () => Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rand() * 256)))
    const one = [
      Buffer.concat([greeting(), longHeader(1n << 40n, true)]),
      Buffer.concat([greeting(), longHeader(1n << 62n, true)]),
      Buffer.concat([greeting(), ready(), longHeader(1n << 40n, false)]),
      Buffer.concat([greeting(), ready(), longHeader(1n << 62n, false)]),
      greeting('FOOBAR'),
      Buffer.concat([greeting('NULL', 9, 9), junk()]),
      Buffer.concat([greeting(), greeting()]),
      greeting().subarray(0, 30)
    ]
    const items = []
    for (let r = 0; r < (cmd.repeat || 1); r++) items.push(...one)
    const closed = await inBatches(items, 50, (b) => attack(b, { waitMs: 1000, end: b.length === 30 }))
    return { sent: items.length, closedByServer: closed }
  }
  if (cmd.cmd === 'random') {
    const rand = prng(cmd.seed)
    const items = Array.from({ length: cmd.count }, () => {
      const n = 1 + Math.floor(rand() * 600)
      return Buffer.concat([greeting(), Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)))])
    })
    const closed = await inBatches(items, cmd.par || 50, (b) => attack(b, { waitMs: 500, end: true }))
    return { sent: items.length, closedByServer: closed }
  }
  if (cmd.cmd === 'silent') {
    let failed = 0
    const state = { closedByServer: 0 }
    for (let i = 0; i < cmd.count; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, cmd.count - i) }, () => new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', resolve)
        s.on('error', () => { failed++; resolve() })
        s.on('data', () => {})
        s.on('close', () => { if (!s.released) state.closedByServer++ })
        silent.push(s)
      })))
    }
    silent.state = state
    return { open: silent.length - failed, failed, closedByServer: state.closedByServer }
  }
  if (cmd.cmd === 'release') {
    const closedByServer = silent.state ? silent.state.closedByServer : 0
    for (const s of silent) { s.released = true; s.destroy() }
    const n = silent.length
    silent.length = 0
    return { released: n, closedByServer }
  }
})

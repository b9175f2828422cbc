'use strict'
// Runs each program of examples/talk (in pairs, as in the talk) and checks its output.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')

const dir = path.join(__dirname, '..', 'examples', 'talk')

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
    srv.on('error', reject)
  })
}

/** Runs an example to completion (bounded); resolves with its stdout. */
function run (name, args, ms = 15000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(dir, name), ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} did not exit:\n${out}\n${err}`)) }, ms)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${name} exited with ${code}:\n${out}\n${err}`))
    })
  })
}

test('beacon PUB/SUB', { timeout: 30000 }, async () => {
  const ep = `tcp://127.0.0.1:${await freePort()}`
  const pub = run('zmq-beacon-pub.js', [ep, 40])
  const sub = await run('zmq-beacon-sub.js', [ep, 5])
  assert.equal((sub.match(/^beacon from \d+ at \d+$/gm) || []).length, 5, sub)
  assert.match(await pub, /published 40 beacons/)
})

test('time REQ/REP', { timeout: 30000 }, async () => {
  const ep = `tcp://127.0.0.1:${await freePort()}`
  const rep = run('zmq-time-rep.js', [ep, 3])
  const req = await run('zmq-time-req.js', [ep, 3])
  assert.equal((req.match(/^received time \d+ from \d+$/gm) || []).length, 3, req)
  assert.equal(((await rep).match(/^received request from \d+$/gm) || []).length, 3)
})

test('DEALER/ROUTER REP cluster over ipc', { timeout: 30000 }, async () => {
  const ep = `tcp://127.0.0.1:${await freePort()}`
  const cluster = run('zmq-time-rep-cluster.js', [ep, 3, 6])
  const req = await run('zmq-time-req.js', [ep, 6])
  assert.equal((req.match(/^received time \d+ from \d+$/gm) || []).length, 6, req)
  const out = await cluster
  assert.equal((out.match(/^worker \d received request/gm) || []).length, 6, out)
  assert.ok(new Set(out.match(/^worker (\d)/gm)).size >= 2, 'more than one worker served')
})

test('PUSH/PULL work queue with several pullers', { timeout: 30000 }, async () => {
  const ep = `tcp://127.0.0.1:${await freePort()}`
  const pullers = run('zmq-work-pull-cluster.js', [ep, 3, 30])
  const push = await run('zmq-work-push.js', [ep, 30, 800])
  assert.match(push, /pushed 30 jobs/)
  const out = await pullers
  assert.match(out, /done 30 jobs/)
  const counts = [...out.matchAll(/did (\d+) jobs/g)].map((m) => Number(m[1]))
  assert.equal(counts.length, 3)
  assert.ok(counts.every((n) => n > 0), out)
})

'use strict'
// `zmqbus broker`: flags parsed with node:util parseArgs, --help, clear errors with exit code 2,
// Prometheus metrics that add up while traffic runs, clean exit on SIGTERM.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const readline = require('node:readline')
const { Worker, Client } = require('..')
const { freePort, withTimeout } = require('./helpers')

const BIN = path.join(__dirname, '..', 'bin', 'zmqbus.js')

test('--help prints the usage; bad flags fail with a message and exit code 2', () => {
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', timeout: 10000 })
  assert.equal(help.status, 0)
  assert.match(help.stdout, /usage: zmqbus broker <endpoint>/)
  for (const [args, why] of [
    [['broker'], /exactly one endpoint/],
    [['serve', 'tcp://127.0.0.1:1'], /unknown command 'serve'/],
    [['broker', 'tcp://127.0.0.1:1', '--bogus'], /Unknown option '--bogus'/],
    [['broker', 'tcp://127.0.0.1:1', '--heartbeat', 'soon'], /--heartbeat must be a number/],
    [['broker', 'tcp://127.0.0.1:1', '--dmode', 'fast'], /--dmode must be load or rand/],
    [['broker', 'tcp://127.0.0.1:1', '--max-queue', '0'], /--max-queue must be a number >= 1/],
    [['broker', 'tcp://127.0.0.1:1', '--metrics', 'nowhere'], /--metrics must be host:port/],
    [['broker', 'nope://x'], /endpoint/]
  ]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 10000 })
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, why)
  }
})

test('a broker run from the CLI serves traffic, its metrics add up, SIGTERM stops it cleanly', async (t) => {
  const [port, mport, iport] = await Promise.all([freePort(), freePort(), freePort()])
  const addr = `tcp://127.0.0.1:${port}`
  const proc = spawn(process.execPath, [BIN, 'broker', addr, '--heartbeat', '200', '--intch', `tcp://127.0.0.1:${iport}`, '--metrics', `127.0.0.1:${mport}`],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  const lines = readline.createInterface({ input: proc.stdout })
  await withTimeout(new Promise((resolve) => lines.on('line', (l) => { if (l.startsWith('metrics on')) resolve() })), 10000, 'cli start')

  const worker = new Worker(addr, 'echo', { heartbeat: 200 })
  worker.on('request', (data, reply) => { reply.write('p'); reply.end(data) })
  const client = new Client(addr, { heartbeat: 200 })
  const connected = Promise.all([new Promise((resolve) => worker.once('connect', resolve)), new Promise((resolve) => client.once('connect', resolve))])
  worker.start()
  client.start()
  try {
    await withTimeout(connected, 5000, 'connect')
    const N = 25
    await withTimeout(Promise.all(Array.from({ length: N }, (_, i) => client.call('echo', i, { timeout: 5000 }))), 10000, 'requests')
    await new Promise((resolve) => setTimeout(resolve, 300)) // stats refresh at least every 100 ms
    const res = await fetch(`http://127.0.0.1:${mport}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /text\/plain/)
    const text = await res.text()
    const value = (name) => {
      const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)
      return m ? Number(m[1]) : NaN
    }
    assert.equal(value('zmqbus_broker_requests_total'), N)
    assert.equal(value('zmqbus_broker_replies_total'), N)
    assert.equal(value('zmqbus_broker_partials_total'), N)
    assert.equal(value('zmqbus_broker_in_flight'), 0)
    assert.equal(value('zmqbus_broker_workers'), 1)
    assert.match(text, /^zmqbus_broker_dropped_total\{reason="malformed"\} 0$/m)
    assert.match(text, /# TYPE zmqbus_broker_requests_total counter/)
  } finally {
    client.stop()
    worker.stop()
  }
  proc.kill('SIGTERM')
  const { code } = await withTimeout(exited, 5000, 'exit after SIGTERM')
  assert.equal(code, 0)
})

test('`zmqbus keygen` makes a key pair, and a CLI broker started with its secret serves only CURVE clients', async (t) => {
  const fs = require('node:fs')
  const os = require('node:os')
  const keygen = spawnSync(process.execPath, [BIN, 'keygen'], { encoding: 'utf8', timeout: 10000 })
  assert.equal(keygen.status, 0, keygen.stderr)
  const [, publicKey] = /^public=(.{40})$/m.exec(keygen.stdout)
  const [, secretKey] = /^secret=(.{40})$/m.exec(keygen.stdout)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zmqbus-cli-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'secret'), secretKey + '\n')
  const port = await freePort()
  const addr = `tcp://127.0.0.1:${port}`
  const proc = spawn(process.execPath, [BIN, 'broker', addr, '--intch', 'off', '--heartbeat', '200', '--curve-secret-file', path.join(dir, 'secret')],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  const lines = readline.createInterface({ input: proc.stdout })
  await withTimeout(new Promise((resolve) => lines.on('line', (l) => { if (l.includes('listening')) resolve() })), 10000, 'broker start')
  const worker = new Worker(addr, 'cli', { heartbeat: 200, curve: { serverKey: publicKey } })
  worker.on('request', (d, reply) => reply.end(d + '!'))
  const client = new Client(addr, { heartbeat: 200, curve: { serverKey: publicKey } })
  const plainClient = new Client(addr, { heartbeat: 200 })
  worker.start(); client.start(); plainClient.start()
  try {
    assert.equal(await client.call('cli', 'sealed', { timeout: 5000 }), 'sealed!')
    await assert.rejects(plainClient.call('cli', 'open', { timeout: 400 }))
  } finally {
    worker.stop(); client.stop(); plainClient.stop()
    proc.kill('SIGTERM')
  }
})

test('security flags that cannot work fail with exit code 2', () => {
  for (const [args, why] of [
    [['broker', 'tcp://127.0.0.1:1', '--curve-clients', '/nonexistent'], /needs a CURVE secret key/],
    [['broker', 'tcp://127.0.0.1:1', '--curve-secret-file', '/nonexistent/secret'], /cannot read/]
  ]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 10000 })
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, why)
  }
})

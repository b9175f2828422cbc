#!/usr/bin/env node
'use strict'
// `npx zmqbus broker <endpoint> [options]`: a standalone pigato-compatible broker; `zmqbus keygen`: a CURVE
// key pair for it.
const fs = require('node:fs')
const { parseArgs } = require('node:util')

const USAGE = `usage: zmqbus broker <endpoint> [options]
       zmqbus keygen

Runs a pigato-compatible broker on <endpoint> (tcp://*:55555, ipc:///tmp/b.sock).
keygen prints a fresh CURVE key pair (Z85) as two lines: public=..., secret=...

options:
  --intch <endpoint>     internal channel for $dir notices (default tcp://127.0.0.1:55550; "off" for none)
  --heartbeat <ms>       heartbeat period (default 2500)
  --liveness <n>         heartbeats a silent worker survives (default 3)
  --dmode <load|rand>    how a worker is picked (default load)
  --name <id>            the broker's name
  --max-queue <n>        most requests waiting per service (default 20000; "inf" for no bound)
  --max-bytes <n>        most bytes of requests held in all (default 268435456; "inf" for no bound)
  --metrics <host:port>  serve Prometheus metrics at http://<host:port>/metrics
  --curve-secret-file <path>  serve CURVE only, with the Z85 secret key in <path>
                         (or in the ZMQBUS_CURVE_SECRET environment variable; never on the command line)
  --curve-clients <path> with CURVE, accept only the Z85 public keys listed in <path>, one per line
  --plain-users <path>   serve PLAIN only, for the user:password lines of <path>
  -h, --help             this text
`

function fail (message) {
  process.stderr.write(`zmqbus: ${message}\n\n${USAGE}`)
  process.exit(2)
}

function positiveNumber (name, v) {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < 1) fail(`--${name} must be a number >= 1; got '${v}'`)
  return n
}

function parse (argv) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        intch: { type: 'string' },
        heartbeat: { type: 'string' },
        liveness: { type: 'string' },
        dmode: { type: 'string' },
        name: { type: 'string' },
        'max-queue': { type: 'string' },
        'max-bytes': { type: 'string' },
        metrics: { type: 'string' },
        'curve-secret-file': { type: 'string' },
        'curve-clients': { type: 'string' },
        'plain-users': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    fail(err.message)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  if (positionals[0] === 'keygen' && positionals.length === 1) return { keygen: true }
  if (positionals[0] !== 'broker') fail(positionals.length ? `unknown command '${positionals[0]}'` : 'a command is required')
  if (positionals.length !== 2) fail('broker takes exactly one endpoint')
  if (values.dmode !== undefined && values.dmode !== 'load' && values.dmode !== 'rand') fail(`--dmode must be load or rand; got '${values.dmode}'`)
  let metrics = null
  if (values.metrics !== undefined) {
    const m = /^(.+):(\d+)$/.exec(values.metrics)
    if (!m || Number(m[2]) > 65535) fail(`--metrics must be host:port; got '${values.metrics}'`)
    metrics = { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) }
  }
  const conf = {}
  if (values.intch !== undefined) conf.intch = values.intch === 'off' ? false : values.intch
  if (values.heartbeat !== undefined) conf.heartbeat = positiveNumber('heartbeat', values.heartbeat)
  if (values.liveness !== undefined) conf.heartbeatLiveness = positiveNumber('liveness', values.liveness)
  if (values.dmode !== undefined) conf.dmode = values.dmode
  if (values.name !== undefined) conf.name = values.name
  for (const [flag, field] of [['max-queue', 'maxQueue'], ['max-bytes', 'maxBytes']]) {
    const v = values[flag]
    if (v !== undefined) conf[field] = v === 'inf' ? Infinity : positiveNumber(flag, v)
  }
  Object.assign(conf, security(values))
  return { endpoint: positionals[1], conf, metrics }
}

/** Non-empty, non-comment lines of a file the operator named. */
function lines (option, path) {
  let text
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (err) {
    fail(`--${option}: cannot read '${path}' (${err.code || err.message})`)
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
}

/** `conf.curve` / `conf.plain` from files and the environment (secrets never in argv). */
function security (values) {
  const secret = values['curve-secret-file'] !== undefined
    ? lines('curve-secret-file', values['curve-secret-file'])[0]
    : process.env.ZMQBUS_CURVE_SECRET
  if (values['curve-clients'] !== undefined && !secret) fail('--curve-clients needs a CURVE secret key (--curve-secret-file or ZMQBUS_CURVE_SECRET)')
  if (secret && values['plain-users'] !== undefined) fail('CURVE and PLAIN cannot be used together')
  if (secret) {
    const curve = { secretKey: secret }
    if (values['curve-clients'] !== undefined) curve.clients = lines('curve-clients', values['curve-clients'])
    return { curve }
  }
  if (values['plain-users'] !== undefined) {
    const users = {}
    for (const line of lines('plain-users', values['plain-users'])) {
      const at = line.indexOf(':')
      if (at < 1) fail(`--plain-users: lines must be user:password; got '${line.slice(0, 20)}'`)
      users[line.slice(0, at)] = line.slice(at + 1)
    }
    return { plain: { users } }
  }
  return {}
}

async function main () {
  const { keygen, endpoint, conf, metrics } = parse(process.argv.slice(2))
  if (keygen) {
    const { publicKey, secretKey } = require('..').curveKeyPair()
    process.stdout.write(`public=${publicKey}\nsecret=${secretKey}\n`)
    return
  }
  const { Broker } = require('..')
  let broker
  try {
    broker = new Broker(endpoint, conf)
  } catch (err) {
    fail(err.message)
  }
  broker.on('error', (err) => console.error('broker error:', (err && err.code) || '', (err && err.message) || err))
  await new Promise((resolve) => broker.start(resolve))
  const mechanism = conf.curve ? ' (CURVE)' : conf.plain ? ' (PLAIN)' : ''
  console.log(`zmqbus broker listening on ${endpoint}${mechanism}`)
  let server = null
  if (metrics) {
    const { brokerRegistry, serveMetrics } = require('../lib/ops/metrics')
    server = await serveMetrics(brokerRegistry(broker), metrics.host, metrics.port)
    console.log(`metrics on http://${values(metrics)}/metrics`)
  }
  let stopping = false
  const shutdown = () => {
    if (stopping) return
    stopping = true
    if (server) server.close()
    broker.stop(() => process.exit(0))
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

function values (m) { return m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}` }

main().catch((err) => {
  console.error('zmqbus:', err && err.message)
  process.exit(1)
})

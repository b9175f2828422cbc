#!/usr/bin/env node
'use strict'
// `npx zmqbus broker <endpoint> [--intch <endpoint>] [--heartbeat ms]`: a standalone broker.
const { Broker } = require('..')

function usage (code) {
  console.error('usage: zmqbus broker <endpoint> [--intch <endpoint>] [--heartbeat <ms>] [--name <id>]')
  process.exit(code)
}

const args = process.argv.slice(2)
if (args[0] !== 'broker' || !args[1]) usage(args.length ? 2 : 0)
const conf = {}
for (let i = 2; i < args.length; i += 2) {
  const key = args[i].replace(/^--/, '')
  const value = args[i + 1]
  if (value === undefined) usage(2)
  if (key === 'heartbeat') conf.heartbeat = Number(value)
  else if (key === 'intch' || key === 'name') conf[key] = value
  else usage(2)
}

const broker = new Broker(args[1], conf)
broker.on('error', (err) => console.error('broker error:', err.code || '', err.message || err))
broker.start(() => console.log(`zmqbus broker listening on ${args[1]}`))
function shutdown () { broker.stop(() => process.exit(0)) }
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)

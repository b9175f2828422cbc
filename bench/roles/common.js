'use strict'
// Shared by the role scripts: `--key value` arguments, one JSON line per
// report on stdout, JSON-line commands on stdin, a wall clock in milliseconds
// with sub-millisecond precision that all processes on the machine share, and
// the engine under test (`--impl ours|pigato`).

const path = require('node:path')
const readline = require('node:readline')
const { performance } = require('node:perf_hooks')

/** `--key value` pairs (and bare `--flag` as true) into an object. */
function parseArgs (argv = process.argv.slice(2)) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue
    const key = argv[i].slice(2)
    const next = argv[i + 1]
    if (next === undefined || next.startsWith('--')) out[key] = true
    else { out[key] = /^-?\d+(\.\d+)?$/.test(next) ? Number(next) : next; i++ }
  }
  return out
}

/** Writes one JSON line (a report to the orchestrator). */
function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

/** Calls `fn(cmd)` for every JSON line on stdin; stdin closing ends the process. */
function onCommand (fn) {
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    try { fn(JSON.parse(line)) } catch (err) { emit({ type: 'error', error: String(err) }) }
  })
  rl.on('close', () => process.exit(0))
}

/** The next command whose `cmd` is `name`, as a promise. */
const pending = []
const seen = {}
let listening = false
function listen () {
  if (listening) return
  listening = true
  onCommand((c) => {
    seen[c.cmd] = c
    const i = pending.findIndex((p) => p.name === c.cmd)
    if (i >= 0) pending.splice(i, 1)[0].resolve(c)
  })
}
function waitCommand (name) {
  listen()
  return new Promise((resolve) => pending.push({ name, resolve }))
}

/** The last command named `name` received so far (via waitCommand's reader), or undefined. */
function lastCommand (name) {
  listen()
  return seen[name]
}

/** Milliseconds since the epoch, sub-millisecond precision. */
function now () {
  return performance.timeOrigin + performance.now()
}

/** The pigato API of `impl`: this package ('ours') or the npm pigato ('pigato'). */
function loadMdp (impl) {
  if (impl === 'pigato') return require('pigato')
  if (impl === 'ours') return require(path.join(__dirname, '..', '..'))
  throw new Error(`unknown --impl ${impl}`)
}

/** Exit cleanly on SIGTERM after `cleanup()` (bounded: 1 s). */
function onTerm (cleanup) {
  process.on('SIGTERM', () => {
    setTimeout(() => process.exit(0), 1000).unref()
    try { cleanup() } catch {}
    setImmediate(() => process.exit(0))
  })
}

/** Reports an uncaught failure as a JSON line, then exits 1. */
function failLoudly () {
  const fail = (err) => {
    emit({ type: 'fatal', error: String(err && err.stack ? err.stack : err) })
    process.stderr.write(String(err && err.stack ? err.stack : err) + '\n')
    process.exit(1)
  }
  process.on('uncaughtException', fail)
  process.on('unhandledRejection', fail)
}

module.exports = { parseArgs, emit, onCommand, waitCommand, lastCommand, now, loadMdp, onTerm, failLoudly }

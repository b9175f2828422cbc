'use strict'
// Shared bits of the bench peer scripts: argument parsing, choosing the
// implementation (--impl pigato|zmqbus, or env ZMQBUS_BENCH_IMPL), and JSON
// line output.

const path = require('node:path')

/** Parses `--key=value` and `--key value` (numbers become numbers). */
function parseArgs(argv = process.argv.slice(2), defaults = {}) {
  const out = { ...defaults }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) continue
    let key = a.slice(2)
    let value
    const eq = key.indexOf('=')
    if (eq >= 0) {
      value = key.slice(eq + 1)
      key = key.slice(0, eq)
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      value = argv[++i]
    } else {
      value = 'true'
    }
    out[key] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
  }
  return out
}

/** The pigato-API implementation: the npm package or ours (the repository root). */
function loadImpl(name = process.env.ZMQBUS_BENCH_IMPL || 'pigato') {
  if (name === 'pigato') return require('pigato')
  if (name === 'zmqbus') return require(path.join(__dirname, '..', '..'))
  throw new Error(`--impl must be pigato or zmqbus, got '${name}'`)
}

function printJson(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

/** Exits cleanly on SIGTERM/SIGINT or when stdin closes (the parent went away). */
function onShutdown(fn) {
  let done = false
  const run = () => {
    if (done) return
    done = true
    Promise.resolve(fn()).finally(() => setTimeout(() => process.exit(0), 50).unref())
  }
  process.on('SIGTERM', run)
  process.on('SIGINT', run)
  process.stdin.on('end', run)
  process.stdin.resume()
}

/** Hard limit so a bench process never outlives its run. */
function watchdog(ms) {
  setTimeout(() => {
    printJson({ event: 'error', error: `watchdog: exceeded ${ms} ms` })
    process.exit(3)
  }, ms).unref()
}

function percentile(sorted, p) {
  if (!sorted.length) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

module.exports = { parseArgs, loadImpl, printJson, onShutdown, watchdog, percentile }

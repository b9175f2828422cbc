'use strict'
// Shared by the role processes: `--key value` arguments, JSON lines out, JSON-line commands in
// (stdin closing ends the process: a role never outlives its case).
const fs = require('node:fs')
const readline = require('node:readline')

function args (argv = process.argv.slice(2)) {
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

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

/** `fn(cmd)` for each command line; its result (or promise) is sent back as {event: cmd.cmd, id, ...}. */
function commands (fn) {
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', async (line) => {
    let cmd
    try { cmd = JSON.parse(line) } catch { return }
    try {
      const out = await fn(cmd)
      if (out !== undefined) emit({ event: cmd.cmd, id: cmd.id, ...out })
    } catch (err) {
      emit({ event: cmd.cmd, id: cmd.id, error: String(err && err.stack ? err.stack : err) })
    }
  })
  rl.on('close', () => process.exit(0))
}

function rssMb () { return process.memoryUsage().rss / 1048576 }
function fds () { try { return fs.readdirSync('/proc/self/fd').length } catch { return -1 } }

module.exports = { args, emit, commands, rssMb, fds }

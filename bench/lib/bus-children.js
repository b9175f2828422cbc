'use strict'
// The bus benchmarks' child processes (bench/bus-child.js): spawned with a role and a config, driven by
// JSON lines on stdin, read by JSON lines on stdout. Every child is kept in `children` until it exits, so
// a bench can end them all (by PID, through their process objects) whatever happened.
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')

const CHILD = path.join(__dirname, '..', 'bus-child.js')
const children = new Set()

function spawnChild (role, config) {
  const proc = spawn(process.execPath, [CHILD, role, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = []
  const waiters = []
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let msg
    try { msg = JSON.parse(line) } catch (e) { return }
    lines.push(msg)
    for (const w of waiters.slice()) if (w.ev === msg.ev && w.pred(msg)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(msg) }
  })
  const child = {
    proc,
    lines,
    send: (cmd) => proc.stdin.write(JSON.stringify(cmd) + '\n'),
    wait: (ev, ms = 10000, pred = () => true, fresh = false) => {
      const seen = !fresh && lines.find((l) => l.ev === ev && pred(l))
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const w = { ev, pred, resolve }
        waiters.push(w)
        setTimeout(() => { if (waiters.includes(w)) { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`${role}: no ${ev} in ${ms} ms`)) } }, ms)
      })
    },
    kill: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
      proc.once('exit', resolve)
      proc.kill('SIGKILL')
    })
  }
  children.add(child)
  proc.once('exit', () => children.delete(child))
  return child
}

/** Ends every child still running. */
function killAll () {
  for (const c of children) c.proc.kill('SIGKILL')
}

module.exports = { spawnChild, children, killAll }

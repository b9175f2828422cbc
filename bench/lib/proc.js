'use strict'
// Child processes for the benchmark: role scripts that talk in JSON lines on
// stdout (and take commands on stdin), servers (nats-server, redis-server) on
// free loopback ports, and /proc readings of their CPU time and RSS.
// Every child started here is remembered and killed by PID at exit, also when
// the orchestrator fails or is interrupted.

const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const ROLES = path.join(__dirname, '..', 'roles')
const live = new Set()

/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK, 100 when unknown). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it). */
function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * CPU seconds (user + system) and resident set size (bytes) of `pid`, read
 * from /proc/<pid>/stat and /proc/<pid>/status; null once the process is gone.
 */
function procUsage (pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces: count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSec = (Number(fields[11]) + Number(fields[12])) / CLK_TCK
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const m = /VmRSS:\s+(\d+) kB/.exec(status)
    return { cpuSec, rss: m ? Number(m[1]) * 1024 : NaN }
  } catch {
    return null
  }
}

/** Sum of CPU seconds of `pids` (processes already gone count as 0). */
function cpuOf (pids) {
  return pids.reduce((sum, pid) => sum + (procUsage(pid)?.cpuSec ?? 0), 0)
}

/**
 * Starts `node bench/roles/<script> ...args` and returns a handle:
 * `next(type, ms)` resolves with the next JSON line whose `type` matches,
 * `send(obj)` writes one JSON line to its stdin, `stop()` kills it.
 * A child that exits early makes every pending `next()` reject with its stderr.
 */
function startRole (script, args = [], { timeoutMs = 60000 } = {}) {
  const child = spawn(process.execPath, [path.join(ROLES, script), ...args.map(String)], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  live.add(child)
  const queue = []
  const waiters = []
  let stderr = ''
  let exited = null
  let buf = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    buf += chunk
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim()
      buf = buf.slice(nl + 1)
      if (!line.startsWith('{')) continue
      try {
        deliver(JSON.parse(line))
      } catch { /* a log line that only looked like JSON */ }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (c) => { stderr = (stderr + c).slice(-4000) })
  child.stdin.on('error', () => {})
  child.on('exit', (code, signal) => {
    live.delete(child)
    exited = { code, signal }
    for (const w of waiters.splice(0)) w.reject(failure(w.type))
  })

  function failure (type) {
    const how = exited ? `exited (${exited.code ?? exited.signal})` : 'timed out'
    return new Error(`${script} ${args.join(' ')}: ${how} before a '${type}' line${stderr ? ': ' + stderr.trim().split('\n').slice(-3).join(' | ') : ''}`)
  }

  function deliver (msg) {
    const i = waiters.findIndex((w) => w.type === msg.type)
    if (i >= 0) {
      const [w] = waiters.splice(i, 1)
      clearTimeout(w.timer)
      w.resolve(msg)
    } else {
      queue.push(msg)
    }
  }

  return {
    pid: child.pid,
    child,
    next (type, ms = timeoutMs) {
      const i = queue.findIndex((m) => m.type === type)
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0])
      if (exited) return Promise.reject(failure(type))
      return new Promise((resolve, reject) => {
        const w = { type, resolve, reject: (e) => { clearTimeout(w.timer); reject(e) } }
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1)
          reject(failure(type))
        }, ms)
        waiters.push(w)
      })
    },
    send (obj) {
      if (!exited) child.stdin.write(JSON.stringify(obj) + '\n')
    },
    usage () {
      return procUsage(child.pid)
    },
    get exited () {
      return exited
    },
    stop (signal = 'SIGTERM') {
      if (exited) return Promise.resolve()
      return new Promise((resolve) => {
        const t = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, 2000)
        child.once('exit', () => { clearTimeout(t); resolve() })
        try { child.kill(signal) } catch { resolve() }
      })
    }
  }
}

/** Resolves once 127.0.0.1:`port` accepts a TCP connection; rejects after `ms`. */
async function waitForPort (port, ms = 10000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`)
}

/**
 * Starts a server binary (`cmd args`) that will listen on `port`, and waits
 * until it does. Returns { pid, port, stop() }; the caller stops it, and exit
 * stops it anyway.
 */
async function startServer (cmd, args, port) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  live.add(child)
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (c) => { stderr = (stderr + c).slice(-2000) })
  const failed = new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => { live.delete(child); reject(new Error(`${cmd} exited (${code}): ${stderr.trim()}`)) })
  })
  failed.catch(() => {})
  await Promise.race([waitForPort(port), failed])
  return {
    pid: child.pid,
    port,
    stop () {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
      return new Promise((resolve) => {
        const t = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, 3000)
        child.once('exit', () => { clearTimeout(t); resolve() })
        child.kill('SIGTERM')
      })
    }
  }
}

/** Kills (SIGKILL, by PID) every child this module started that still runs. */
function killAll () {
  for (const child of live) {
    try { child.kill('SIGKILL') } catch {}
  }
  live.clear()
}

process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130) })
}

/** The path of a binary on PATH (or in /usr/sbin, /usr/bin), or null. */
function which (name) {
  for (const dir of [...(process.env.PATH || '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/bin']) {
    const p = path.join(dir, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {}
  }
  return null
}

module.exports = { freePort, procUsage, cpuOf, startRole, startServer, waitForPort, killAll, which, CLK_TCK }

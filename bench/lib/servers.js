'use strict'
// The peers' servers: nats-server and redis-server from Debian, installed by
// the bench when missing (apt-get, as root only), started on 127.0.0.1 on a
// free port with no persistence, and stopped by PID at the end. A server that
// cannot be had gives { unavailable: reason } and its rows say so.

const { execFileSync } = require('node:child_process')
const { freePort, startServer, which } = require('./proc')

let aptUpdated = false

/** Installs Debian package `pkg` when `bin` is missing; returns the binary's path or throws why not. */
function ensureBinary (bin, pkg, log) {
  const found = which(bin)
  if (found) return found
  if (process.getuid?.() !== 0 || !which('apt-get')) throw new Error(`${bin} missing (install the Debian package ${pkg})`)
  log(`installing ${pkg} with apt-get ...`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  if (!aptUpdated) {
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 300000 })
    aptUpdated = true
  }
  execFileSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore', env, timeout: 300000 })
  const path = which(bin)
  if (!path) throw new Error(`${bin} still missing after apt-get install ${pkg}`)
  return path
}

function versionOf (bin, args, re) {
  try {
    const out = execFileSync(bin, args, { encoding: 'utf8', timeout: 10000 })
    return (re.exec(out) || [null, out.trim()])[1]
  } catch {
    return 'unknown'
  }
}

async function startNats (log) {
  const bin = ensureBinary('nats-server', 'nats-server', log)
  const port = await freePort()
  const s = await startServer(bin, ['-a', '127.0.0.1', '-p', String(port)], port)
  return { ...s, name: 'nats-server', version: versionOf(bin, ['--version'], /\bv(\d\S*)/) }
}

async function startRedis (log) {
  const bin = ensureBinary('redis-server', 'redis-server', log)
  const port = await freePort()
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--daemonize', 'no']
  const s = await startServer(bin, args, port)
  return { ...s, name: 'redis-server', version: versionOf(bin, ['--version'], /v=(\S+)/) }
}

/** Starts both servers; each is either a running server or { unavailable: reason }. */
async function startServers (log, wanted = { nats: true, redis: true }) {
  const out = {}
  for (const [name, fn] of [['nats', startNats], ['redis', startRedis]]) {
    if (!wanted[name]) continue
    try {
      out[name] = await fn(log)
    } catch (err) {
      out[name] = { unavailable: String(err.message || err) }
    }
  }
  return out
}

async function stopServers (servers) {
  await Promise.all(Object.values(servers).map((s) => s.stop && s.stop()))
}

module.exports = { startServers, stopServers }

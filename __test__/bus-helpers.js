'use strict'
// Helpers of the zmqbus node tests: loopback-only cluster options, a guard that refuses to
// start a node on the default interface outside a network namespace, bounded waits, child
// node processes speaking JSON lines, and throwaway network namespaces (netns) joined by a
// bridge that lives in its own namespace: discovery multicast never reaches a real interface.
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { EventEmitter } = require('node:events')
const readline = require('node:readline')

const FIXTURE = path.join(__dirname, 'fixtures', 'bus-node.js')
const PEER = path.join(__dirname, '..', 'test-peers', 'zmqbus-peer.js')

/** True when this process runs in the host's (the container's) own network namespace, i.e.
 *  not in a namespace made by `ip netns add` (`ip netns identify` names those). */
function inRootNetns () {
  try {
    const name = execFileSync('ip', ['netns', 'identify', String(process.pid)], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 })
    return name.toString().trim() === ''
  } catch (e) {
    return true // cannot tell: assume the worst
  }
}

/** Throws unless `opts` keep discovery on loopback or we are inside a test namespace. */
function guardInterface (opts = {}) {
  const iface = opts.multicast_interface || process.env.ZMQBUS_MULTICAST_INTERFACE
  if (iface && String(iface).startsWith('127.')) return
  if (!inRootNetns()) return
  throw new Error('test guard: refusing to start a zmqbus node on the default interface outside a network namespace ' +
    '(set multicast_interface: "127.0.0.1" or run it inside a netns)')
}

/** A random cluster (group and port) on loopback with fast election settings. */
function loopbackOpts (extra = {}) {
  return {
    multicast_interface: '127.0.0.1',
    multicast_addr: `239.255.${1 + rnd(250)}.${1 + rnd(250)}`,
    multicast_port: 20000 + rnd(40000),
    election_timeout: 200,
    heartbeat_period: 100,
    heartbeat_timeout: 500,
    ...extra
  }
}

function rnd (n) { return Math.floor(Math.random() * n) }

/** createNode behind the interface guard. */
function startNode (opts) {
  guardInterface(opts)
  return require('..').createNode(opts)
}

/** Resolves with the first argument of the next `name` event; rejects after `ms`. */
function nextEvent (emitter, name, ms = 5000, pred = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.off(name, on); reject(new Error(`no '${name}' within ${ms} ms`)) }, ms)
    function on (...args) {
      if (!pred(...args)) return
      clearTimeout(timer)
      emitter.off(name, on)
      resolve(args[0])
    }
    emitter.on(name, on)
  })
}

/** Polls `cond` every 10 ms until it is true; rejects after `ms`. */
async function until (cond, ms = 5000, what = 'condition') {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`)
    await sleep(10)
  }
}

function sleep (ms) { return new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * A node in a child process (fixtures/bus-node.js), optionally inside network namespace
 * `netns`. Emits each JSON line it prints as an event named by its `ev` field.
 */
class Child extends EventEmitter {
  constructor (opts, { netns, env, gated } = {}) {
    super()
    const args = [FIXTURE, JSON.stringify(opts), gated ? 'gated' : 'now']
    const [cmd, argv] = netns ? ['ip', ['netns', 'exec', netns, process.execPath, ...args]] : [process.execPath, args]
    this.proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } })
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })))
    this.lines = []
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      let msg
      try { msg = JSON.parse(line) } catch (e) { return }
      this.lines.push(msg)
      this.emit(msg.ev, msg)
    })
  }

  send (cmd) { this.proc.stdin.write(JSON.stringify(cmd) + '\n') }

  /** The next `ev` line (or an earlier one already seen, when `pred` says so). */
  wait (ev, ms = 5000, pred = () => true) {
    const seen = this.lines.find((l) => l.ev === ev && pred(l))
    return seen ? Promise.resolve(seen) : nextEvent(this, ev, ms, pred)
  }

  kill (signal = 'SIGKILL') {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal)
    return this.exited
  }
}

function ip (...args) {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
}

/** True when network namespaces can be made here (root and iproute2). */
function canNetns () {
  if (process.getuid && process.getuid() !== 0) return false
  const probe = `zbprobe${process.pid}`
  try {
    ip('netns', 'add', probe)
    ip('netns', 'del', probe)
    return true
  } catch (e) {
    return false
  }
}

/**
 * `count` namespaces `zb<pid><tag>n<i>`, each with lo up and eth0 = 10.77.<k>.<i+1>/24 on a bridge
 * that sits in its own hub namespace, a default route and a 224.0.0.0/4 route on eth0.
 * `cleanup()` deletes them all (deleting a namespace deletes its interfaces).
 */
function createNetns (count, tag = 'a') {
  const base = `zb${process.pid}${tag}`
  const hub = `${base}hub`
  const names = []
  const cleanup = () => {
    for (const ns of [...names, hub]) {
      try { ip('netns', 'del', ns) } catch (e) {}
    }
  }
  try {
    ip('netns', 'add', hub)
    ip('-n', hub, 'link', 'set', 'lo', 'up')
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
    ip('-n', hub, 'link', 'set', 'br0', 'up')
    const net = 1 + (process.pid % 250)
    const ips = []
    for (let i = 0; i < count; i++) {
      const ns = `${base}n${i}`
      ip('netns', 'add', ns)
      names.push(ns)
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', hub)
      ip('-n', hub, 'link', 'set', `p${i}`, 'master', 'br0')
      ip('-n', hub, 'link', 'set', `p${i}`, 'up')
      const addr = `10.77.${net}.${i + 1}`
      ips.push(addr)
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0')
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    }
    return { names, ips, hub, cleanup }
  } catch (err) {
    cleanup()
    throw err
  }
}

/** The spec-written JS peer (libzmq through zeromq/v5-compat) inside namespace `netns`, standing in
 *  for an original zmqbus node (it advertises tcp://0.0.0.0:PORT as the original does). */
function spawnPeer (netns, opts) {
  const args = Object.entries(opts).map(([k, v]) => `--${k}=${v}`)
  const proc = spawn('ip', ['netns', 'exec', netns, process.execPath, PEER, ...args],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ZMQBUS_IN_NETNS: '1' } })
  const peer = Object.assign(new (require('node:events').EventEmitter)(), { proc, lines: [], messages: [] })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let msg
    try { msg = JSON.parse(line) } catch (e) { return }
    peer.lines.push(msg)
    if (msg.event === 'message') peer.messages.push(msg.frames)
    peer.emit(msg.event, msg)
  })
  peer.send = (cmd) => proc.stdin.write(JSON.stringify(cmd) + '\n')
  peer.wait = (event, ms = 8000, pred = () => true) => {
    const seen = peer.lines.find((l) => l.event === event && pred(l))
    return seen ? Promise.resolve(seen) : nextEvent(peer, event, ms, pred)
  }
  peer.kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    return exited
  }
  return peer
}

module.exports = {
  inRootNetns, guardInterface, loopbackOpts, startNode, nextEvent, until, sleep, Child, canNetns, createNetns, spawnPeer
}

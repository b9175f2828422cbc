'use strict'
// A small zmqbus node written from shared/spec/zmqbus-wire.md, used as an
// independent peer in tests: UDP multicast discovery and election, a
// forwarder (SUB bound -> PUB bound) on every node, and data sockets (PUB and
// SUB) connected to the elected node's forwarder.
//
// Safety: it refuses to run unless its interface is 127.0.0.1 or the process
// is inside a network namespace (`ip netns identify` names one, or the test
// that made the namespace sets ZMQBUS_IN_NETNS=1). On 127.0.0.1 multicast TTL
// is 0, so datagrams are only looped back on this host.
//
// As a library: `createNode(options)` -> EventEmitter ('ready', 'elected',
// 'message', 'error') with subscribe/unsubscribe/publish/stop.
// As a process: `node zmqbus-peer.js --interface=127.0.0.1 --multicast_port=N ...`
// prints JSON lines ({event: 'started'|'ready'|'elected'|'message'|'error'|'stopped'})
// and reads JSON commands on stdin ({cmd: 'subscribe'|'unsubscribe'|'publish'|'stop', ...}).

const dgram = require('node:dgram')
const { EventEmitter } = require('node:events')
const { execFileSync } = require('node:child_process')
const zmq = require('zeromq/v5-compat')

const DEFAULTS = {
  election_priority: 0,
  election_timeout: 2000,
  heartbeat_period: 2000,
  heartbeat_timeout: 6000,
  // The library's code uses .3 (its README says .4): match the code.
  multicast_addr: '239.1.2.3',
  multicast_port: 45555,
  interface: '127.0.0.1',
}

/** True when this process runs in a network namespace made for tests. */
function inNetworkNamespace() {
  if (process.env.ZMQBUS_IN_NETNS === '1') return true
  try {
    const out = execFileSync('ip', ['netns', 'identify', String(process.pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    })
    return out.trim() !== ''
  } catch {
    return false
  }
}

function isIpv4(s) {
  const parts = String(s).split('.')
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)
}

/** Checks and completes the options; throws a clear Error on bad values. */
function normalizeOptions(given) {
  const o = { ...DEFAULTS, ...given }
  const addr = String(o.multicast_addr)
  const first = Number(addr.split('.')[0])
  const broadcast = addr === '255.255.255.255'
  if (!isIpv4(addr) || (!broadcast && (first < 224 || first > 239))) {
    throw new Error(`multicast_addr must be an IPv4 multicast address (224.0.0.0-239.255.255.255) or 255.255.255.255, got '${addr}'`)
  }
  o.multicast_port = Number(o.multicast_port)
  if (!Number.isInteger(o.multicast_port) || o.multicast_port < 1 || o.multicast_port > 65535) {
    throw new Error(`multicast_port must be a port number, got '${given.multicast_port}'`)
  }
  o.election_priority = Number(o.election_priority)
  if (!Number.isInteger(o.election_priority) || o.election_priority < 0 || o.election_priority > 99) {
    throw new Error('election_priority must be an integer 0..99')
  }
  for (const k of ['election_timeout', 'heartbeat_period', 'heartbeat_timeout']) o[k] = Number(o[k])
  if (!isIpv4(o.interface)) throw new Error(`interface must be an IPv4 address, got '${o.interface}'`)
  const loopbackOnly = o.interface === '127.0.0.1'
  if (!loopbackOnly && !inNetworkNamespace()) {
    throw new Error('refusing to run: interface must be 127.0.0.1 unless inside a network namespace (ZMQBUS_IN_NETNS=1)')
  }
  if (broadcast && !inNetworkNamespace()) {
    throw new Error('refusing to run: broadcast discovery only inside a network namespace')
  }
  o.broadcast = broadcast
  o.ttl = loopbackOnly ? 0 : 1
  return o
}

/** The spec's node id: (99 - priority) on 2 digits + random < 2^20 on 8. */
function makeId(priority) {
  const rnd = Math.floor(Math.random() * 2 ** 20)
  return String(99 - priority).padStart(2, '0') + String(rnd).padStart(8, '0')
}

function toFrame(x) {
  if (Buffer.isBuffer(x)) return x
  return String(x)
}

class ZmqbusNode extends EventEmitter {
  constructor(options = {}) {
    super()
    this.options = normalizeOptions(options)
    this.id = makeId(this.options.election_priority)
    this.elected = null
    this.lastHb = 0
    this.election = null
    this.subscriptions = new Set()
    this.ready = false
    this.stopped = false
    this.timers = []
  }

  /** Binds the forwarder and the UDP socket, then starts the checks. */
  async start() {
    const o = this.options
    this.fwdSub = zmq.socket('sub')
    this.fwdPub = zmq.socket('pub')
    this.fwdSub.subscribe('')
    this.fwdSub.on('message', (...frames) => this.fwdPub.send(frames))
    // Like the original (zmqbus 1.0.0): the forwarder binds tcp://0.0.0.0:* and is advertised
    // as tcp://0.0.0.0:PORT (its code means to put a local address there, but its test is
    // inverted). On loopback it binds 127.0.0.1 only; a connect to 0.0.0.0 reaches that too.
    const bindHost = o.interface.startsWith('127.') ? o.interface : '0.0.0.0'
    await bindAny(this.fwdSub, bindHost)
    await bindAny(this.fwdPub, bindHost)
    this.meta = { id: this.id, sub_addr: unspecified(this.fwdSub.last_endpoint), pub_addr: unspecified(this.fwdPub.last_endpoint) }
    await this.openUdp()
    this.every(o.heartbeat_period, () => this.handleTick())
    this.handleTick()
    return this.meta
  }

  async openUdp() {
    const o = this.options
    const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true })
    this.udp = udp
    udp.on('message', (buf) => this.handleDatagram(buf))
    udp.on('error', (err) => this.emit('error', err))
    await new Promise((resolve) => udp.bind(o.multicast_port, o.broadcast ? undefined : o.multicast_addr, resolve))
    if (o.broadcast) {
      udp.setBroadcast(true)
    } else {
      // Both must succeed before anything is sent: the interface decides
      // where datagrams go, and TTL 0 keeps them on this host on loopback.
      udp.setMulticastInterface(o.interface)
      udp.addMembership(o.multicast_addr, o.interface)
      udp.setMulticastLoopback(true)
      udp.setMulticastTTL(o.ttl)
    }
  }

  every(ms, fn) {
    this.timers.push(setInterval(fn, ms))
  }

  sendUdp(msg) {
    if (this.stopped) return
    const buf = Buffer.from(JSON.stringify(msg))
    this.udp.send(buf, this.options.multicast_port, this.options.multicast_addr)
  }

  /** Periodic check: heartbeat if elected, else start an election when the elected went quiet. */
  handleTick() {
    if (this.stopped) return
    const now = Date.now()
    if (this.elected && this.elected.id === this.id) {
      this.lastHb = now
      this.sendUdp(['hb', this.id])
      return
    }
    if (now - this.lastHb > this.options.heartbeat_timeout && !this.election) this.startElection()
  }

  startElection() {
    this.election = { best: this.meta, candidates: new Map() }
    this.sendUdp(['elect', 'start'])
    const timer = setTimeout(() => this.finishElection(), this.options.election_timeout)
    this.election.timer = timer
  }

  finishElection() {
    const e = this.election
    this.election = null
    if (!e || this.stopped) return
    // Keep the previously elected node when it answered: no needless move.
    const previous = [this.elected && this.elected.id, ...[...e.candidates.values()].map((c) => c.last)]
      .find((id) => id && e.candidates.has(id))
    const winner = previous ? e.candidates.get(previous).meta : e.best
    this.sendUdp(['elect', 'winner', winner])
  }

  handleDatagram(buf) {
    let msg
    try {
      msg = JSON.parse(buf.toString('utf8'))
    } catch {
      return
    }
    if (!Array.isArray(msg) || msg.length < 2 || this.stopped) return
    if (msg[0] === 'hb') {
      if (this.elected && msg[1] === this.elected.id) this.lastHb = Date.now()
    } else if (msg[0] === 'elect') {
      this.handleElect(msg)
    }
  }

  handleElect(msg) {
    const [, kind, meta, last] = msg
    if (kind === 'start') {
      this.sendUdp(['elect', 'candidate', this.meta, this.elected ? { id: this.elected.id } : { id: '' }])
    } else if (kind === 'candidate' && this.election && validMeta(meta)) {
      this.election.candidates.set(meta.id, { meta, last: last && last.id })
      if (meta.id < this.election.best.id) this.election.best = meta
    } else if (kind === 'winner' && validMeta(meta)) {
      this.handleWinner(meta)
    }
  }

  handleWinner(meta) {
    if (this.election && this.election.timer) {
      clearTimeout(this.election.timer)
      this.election = null
    }
    this.lastHb = Date.now()
    if (this.elected && this.elected.id === meta.id) return
    this.elected = meta
    this.connectData(meta)
    this.emit('elected', { ...meta, self: meta.id === this.id })
    if (meta.id === this.id) this.sendUdp(['hb', this.id])
    if (!this.ready) {
      this.ready = true
      this.emit('ready')
    }
  }

  /** (Re)connects the data sockets to the elected node's forwarder. */
  connectData(meta) {
    if (this.dataPub) this.dataPub.close()
    if (this.dataSub) this.dataSub.close()
    this.dataPub = zmq.socket('pub')
    this.dataSub = zmq.socket('sub')
    this.dataPub.connect(meta.sub_addr)
    this.dataSub.connect(meta.pub_addr)
    for (const ch of this.subscriptions) this.dataSub.subscribe(ch)
    this.dataSub.on('message', (...frames) => this.emit('message', frames.map((f) => f.toString())))
  }

  /** Subscribes to a channel (a prefix filter on frame 0); '*' means every channel. */
  subscribe(channel) {
    const ch = channel === '*' ? '' : String(channel)
    this.subscriptions.add(ch)
    if (this.dataSub) this.dataSub.subscribe(ch)
  }

  unsubscribe(channel) {
    const ch = channel === '*' ? '' : String(channel)
    this.subscriptions.delete(ch)
    if (this.dataSub) this.dataSub.unsubscribe(ch)
  }

  /** Publishes one multipart message: channel, then one frame per argument. */
  publish(channel, ...args) {
    if (!this.dataPub) throw new Error('publish before ready')
    this.dataPub.send([String(channel), ...args.map(toFrame)])
  }

  stop() {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    if (this.election && this.election.timer) clearTimeout(this.election.timer)
    for (const s of [this.dataPub, this.dataSub, this.fwdSub, this.fwdPub]) if (s) s.close()
    if (this.udp) this.udp.close()
  }
}

function validMeta(m) {
  return m && typeof m.id === 'string' && typeof m.sub_addr === 'string' && typeof m.pub_addr === 'string'
}

/** `tcp://host:port` as the original advertises it: `tcp://0.0.0.0:port`. */
function unspecified(endpoint) {
  return endpoint.replace(/^tcp:\/\/[^:]+:/, 'tcp://0.0.0.0:')
}

function bindAny(sock, iface) {
  return new Promise((resolve, reject) => sock.bind(`tcp://${iface}:*`, (err) => (err ? reject(err) : resolve())))
}

/** Creates and starts a node; errors from start() are emitted as 'error'. */
function createNode(options) {
  const node = new ZmqbusNode(options)
  node.started = node.start().catch((err) => {
    node.emit('error', err)
    throw err
  })
  node.started.catch(() => {})
  return node
}

function parseArgs(argv) {
  const out = {}
  for (const a of argv) {
    const m = /^--([^=]+)=(.*)$/.exec(a)
    if (m) out[m[1]] = m[2]
  }
  return out
}

function runCli() {
  const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
  let node
  try {
    node = new ZmqbusNode(parseArgs(process.argv.slice(2)))
  } catch (err) {
    print({ event: 'error', error: err.message })
    process.exitCode = 2
    return
  }
  node.on('ready', () => print({ event: 'ready', id: node.id, elected: node.elected.id }))
  node.on('elected', (m) => print({ event: 'elected', ...m }))
  node.on('message', (frames) => print({ event: 'message', frames }))
  node.on('error', (err) => print({ event: 'error', error: String(err && err.message) }))
  const finish = () => {
    node.stop()
    print({ event: 'stopped', id: node.id })
    setTimeout(() => process.exit(0), 20).unref()
  }
  node.start().then(
    (meta) => print({ event: 'started', ...meta }),
    (err) => {
      print({ event: 'error', error: err.message })
      process.exit(1)
    },
  )
  let buf = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk) => {
    buf += chunk
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      handleCommand(node, buf.slice(0, nl), print, finish)
      buf = buf.slice(nl + 1)
    }
  })
  process.stdin.on('end', finish)
  process.on('SIGTERM', finish)
}

function handleCommand(node, line, print, finish) {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch {
    return print({ event: 'error', error: `bad command: ${line}` })
  }
  try {
    if (cmd.cmd === 'subscribe') node.subscribe(cmd.channel)
    else if (cmd.cmd === 'unsubscribe') node.unsubscribe(cmd.channel)
    else if (cmd.cmd === 'publish') node.publish(cmd.channel, ...(cmd.args || []))
    else if (cmd.cmd === 'stop') return finish()
    else return print({ event: 'error', error: `unknown command: ${cmd.cmd}` })
    print({ event: 'ok', cmd: cmd.cmd, seq: cmd.seq })
  } catch (err) {
    print({ event: 'error', error: err.message, cmd: cmd.cmd, seq: cmd.seq })
  }
}

module.exports = { createNode, ZmqbusNode, normalizeOptions, makeId, inNetworkNamespace }

if (require.main === module) runCli()

'use strict'
// setsockopt/getsockopt and the sugar properties (`sock.backlog = 10`) of the old `zmq` module,
// installed on our Socket class from the option table in ./options.js.
const { codeError } = require('../errors')
const { TABLE, lookup } = require('./options')

const { keys } = require('../security')

// Options our engine acts on, by the name the native handle takes (libzmq's, without ZMQ_).
const ENGINE_INT = new Set(['immediate', 'reconnect_ivl', 'reconnect_ivl_max', 'maxmsgsize', 'router_mandatory', 'xpub_verbose',
  'xpub_verboser', 'req_relaxed', 'req_correlate', 'curve_server', 'plain_server', 'handshake_ivl', 'heartbeat_ivl',
  'heartbeat_ttl', 'heartbeat_timeout', 'sndbuf', 'rcvbuf', 'backlog', 'tcp_keepalive', 'tcp_keepalive_cnt', 'tcp_keepalive_idle',
  'tcp_keepalive_intvl'])
const ENGINE_TEXT = new Set(['plain_username', 'plain_password', 'curve_publickey', 'curve_secretkey', 'curve_serverkey', 'zap_domain'])
const warned = new Set()

function invalid (opt, why) {
  return codeError('EINVAL', `socket option ${String(opt)}: ${why}`)
}

/** A value of `entry`'s kind, checked as libzmq checks it. */
function coerce (entry, value) {
  switch (entry.kind) {
    case 'int':
      if (typeof value === 'bigint') value = Number(value)
      if (!Number.isInteger(value)) throw codeError('EINVAL', `${entry.name} must be an integer; received ${String(value)}`, TypeError)
      return value
    case 'bool':
      if (value === true || value === false) return value ? 1 : 0
      if (value !== 0 && value !== 1) throw codeError('EINVAL', `${entry.name} must be 0 or 1; received ${String(value)}`, TypeError)
      return value
    default:
      if (typeof value === 'string') return value
      if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
      throw codeError('EINVAL', `${entry.name} must be a string or a Buffer`, TypeError)
  }
}

function setStored (sock, entry, value) {
  sock._stored.set(entry.id, coerce(entry, value))
  if (!warned.has(entry.id)) {
    warned.add(entry.id)
    process.emitWarning(`zmqbus: socket option ${entry.name} is stored and read back; the engine leaves it to the OS`, { code: 'ZMQBUS_STORED_OPTION' })
  }
}

/** A CURVE key as 40 Z85 characters (from Z85 text or 32 bytes), as libzmq takes either. */
function z85Key (entry, value) {
  if (typeof value === 'string' && value.length === 40) return value
  if ((Buffer.isBuffer(value) || value instanceof Uint8Array) && value.length === 32) return keys.z85Encode(value)
  if ((Buffer.isBuffer(value) || value instanceof Uint8Array) && value.length === 40) return Buffer.from(value).toString('latin1')
  throw codeError('EINVAL', `${entry.name} must be a 32-byte key or 40 Z85 characters`, TypeError)
}

/** Hands an option to the engine and keeps its value for getsockopt. */
function setEngine (sock, entry, value) {
  if (entry.kind === 'key') {
    const key = z85Key(entry, value)
    sock._handle.setTextOption(entry.name, key)
    sock._stored.set(entry.id, key)
  } else if (ENGINE_TEXT.has(entry.name)) {
    const text = coerce(entry, value)
    sock._handle.setTextOption(entry.name, text)
    sock._stored.set(entry.id, text)
  } else {
    const v = coerce(entry, value)
    sock._handle.setIntOption(entry.name, v)
    sock._stored.set(entry.id, v)
  }
}

/** ZMQ_MECHANISM as libzmq reports it: 0 NULL, 1 PLAIN, 2 CURVE, from the options set. */
function mechanism (sock) {
  const on = (id) => { const v = sock._stored.get(id); return v !== undefined && v !== 0 && v !== '' }
  if (on(47) || on(50)) return 2
  if (on(44) || on(45)) return 1
  return 0
}

function setsockopt (opt, value) {
  this._refuse()
  const entry = lookup(opt)
  if (!entry) throw invalid(opt, 'unknown option')
  switch (entry.verdict) {
    case 'rejected': throw invalid(opt, 'not supported by libzmq 4.3')
    case 'getonly': throw invalid(opt, 'read-only')
    case 'live': setLive(this, entry, value); break
    default:
      if (ENGINE_INT.has(entry.name) || ENGINE_TEXT.has(entry.name) || entry.kind === 'key') setEngine(this, entry, value)
      else setStored(this, entry, value)
  }
  return this
}

function setLive (sock, entry, value) {
  switch (entry.id) {
    case 5: sock.identity = value; break
    case 6: sock.subscribe(value); break
    case 7: sock.unsubscribe(value); break
    case 17: sock.linger = value; break
    case 23: sock.sndhwm = value; break
    case 24: sock.rcvhwm = value; break
    default: setEngine(sock, entry, value)
  }
}

function getsockopt (opt) {
  const entry = lookup(opt)
  if (!entry) throw invalid(opt, 'unknown option')
  if (entry.verdict === 'rejected' || entry.verdict === 'setonly') throw invalid(opt, 'cannot be read')
  switch (entry.id) {
    case 5: return this._identity === undefined ? Buffer.alloc(0) : Buffer.from(this._identity)
    case 13: return 0
    case 15: return 2 | (this._held.length > 0 ? 1 : 0)
    case 16: return this._typeNumber()
    case 17: return this._linger
    case 23: return this._sndhwm
    case 24: return this._rcvhwm
    case 32: return this._lastEndpoint
    case 43: return mechanism(this)
  }
  const v = this._stored.get(entry.id)
  return v === undefined ? entry.default : v
}

/** Installs the option API on `Socket`'s prototype (sugar only where nothing is defined yet). */
function installOptions (Socket) {
  Socket.prototype.setsockopt = setsockopt
  Socket.prototype.getsockopt = getsockopt
  for (const [name] of TABLE) {
    if (name === 'type' || Object.getOwnPropertyDescriptor(Socket.prototype, name)) continue
    Object.defineProperty(Socket.prototype, name, {
      configurable: true,
      enumerable: false,
      get () { return this.getsockopt(name) },
      set (v) { this.setsockopt(name, v) }
    })
  }
}

module.exports = { installOptions }

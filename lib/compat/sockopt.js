'use strict'
// setsockopt/getsockopt and the sugar properties (`sock.backlog = 10`) of the old `zmq` module,
// installed on our Socket class from the option table in ./options.js.
const { TABLE, lookup } = require('./options')

// Security options must never be accepted and then ignored: a socket told to use CURVE must not
// talk NULL. They are refused until classic sockets run on our wire engine.
const SECURITY = new Set([44, 45, 46, 47, 48, 49, 50, 55])
const warned = new Set()

function codeError (code, message, Ctor = Error) {
  const err = new Ctor(message)
  err.code = code
  return err
}

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
  if (SECURITY.has(entry.id)) {
    throw codeError('ENOTSUP', `${entry.name}: CURVE and PLAIN security arrive for classic sockets with the wire engine; refusing rather than talking unencrypted`)
  }
  sock._stored.set(entry.id, coerce(entry, value))
  if (!warned.has(entry.id)) {
    warned.add(entry.id)
    process.emitWarning(`zmqbus: socket option ${entry.name} is stored and read back; it takes effect with the wire engine`, { code: 'ZMQBUS_STORED_OPTION' })
  }
}

function setsockopt (opt, value) {
  this._refuse()
  const entry = lookup(opt)
  if (!entry) throw invalid(opt, 'unknown option')
  switch (entry.verdict) {
    case 'rejected': throw invalid(opt, 'not supported by libzmq 4.3')
    case 'getonly': throw invalid(opt, 'read-only')
    case 'live': setLive(this, entry, value); break
    default: setStored(this, entry, value)
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
    case 43: return 0 // NULL: the only mechanism classic sockets speak until the wire engine
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

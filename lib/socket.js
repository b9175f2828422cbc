'use strict'
// The classic `zmq` module API (socket(type), bind/connect, send with ZMQ_SNDMORE, 'message'
// events with Buffer frames, get/setsockopt, ZMQ_* constants) over the Rust sockets engine
// (src/sockets, src/binding/sockets.rs). Beyond the old API: sockets are async-iterable and
// send() returns a Promise when given no callback.
const { codeError } = require('./errors')
const { NativeEngine } = require('./engine')
const { BatchReader } = require('./boundary')
const constants = require('./socket-constants')
const { Context, acquireSocket, releaseSocket } = require('./context')
const { installOptions } = require('./compat/sockopt')
const compat = require('./compat/options')
const { keys } = require('./security')
const { engineHandler } = require('./authenticate')

// Record kinds, declared once in Rust (src/sockets/mod.rs).
const { C_SEND, C_SEND_ACK, E_MESSAGE, E_BOUND, E_UNBOUND, E_ERROR, E_CLOSED, E_SENT, E_MONITOR } = require('./native').recordKinds().sockets

const { ZMQ_SNDMORE } = constants
const TYPE_NAMES = {
  0: 'pair', 1: 'pub', 2: 'sub', 3: 'req', 4: 'rep', 5: 'dealer', 6: 'router', 7: 'pull', 8: 'push', 9: 'xpub', 10: 'xsub', 11: 'stream'
}
const TYPE_NUMBERS = {
  pair: 0, pub: 1, sub: 2, req: 3, rep: 4, dealer: 5, xreq: 5, router: 6, xrep: 6, pull: 7, push: 8, xpub: 9, xsub: 10, stream: 11
}
// One settled promise serves every send: awaiting it works and it costs nothing per message.
const SENT = Promise.resolve()

function typeName (type) {
  if (typeof type === 'number' && TYPE_NAMES[type] !== undefined) return TYPE_NAMES[type]
  if (typeof type === 'string' && TYPE_NUMBERS[type.toLowerCase()] !== undefined) return type.toLowerCase()
  throw codeError('EINVAL', `Unknown socket type: ${String(type)}`, TypeError)
}

function toFrame (f) {
  if (typeof f === 'string' || Buffer.isBuffer(f)) return f
  if (f instanceof Uint8Array) return f
  if (typeof f === 'number' || typeof f === 'bigint' || typeof f === 'boolean') return String(f)
  if (f instanceof ArrayBuffer) return new Uint8Array(f)
  if (f === null || f === undefined) return ''
  throw codeError('EINVAL', `message frames must be strings, Buffers or numbers; received ${typeof f}`, TypeError)
}

function toBytes (v, name) {
  if (typeof v === 'string') return Buffer.from(v)
  if (v instanceof Uint8Array) return v
  throw codeError('EINVAL', `${name} must be a string or a Buffer; received ${typeof v}`, TypeError)
}

function checkInt (v, name, min) {
  if (!Number.isInteger(v) || v < min) {
    throw codeError('EINVAL', `${name} must be an integer >= ${min}; received ${String(v)}`, TypeError)
  }
  return v
}

function checkAddress (addr) {
  if (typeof addr !== 'string') {
    throw codeError('EINVAL', `endpoint must be a string; received ${typeof addr}`, TypeError)
  }
}

class Socket extends NativeEngine {
  /**
   * A socket of `type` (name like 'dealer' or number like zmq.ZMQ_DEALER). Prefer zmq.socket().
   * @param {string|number} type
   */
  constructor (type) {
    super()
    this.type = typeName(type)
    acquireSocket()
    try {
      this._handle = new (require('./native').SocketHandle)(this.type, this._batchHandler((batch) => this._onEvents(batch)))
    } catch (err) {
      releaseSocket()
      throw err
    }
    this._closed = false
    this._paused = false
    this._held = []
    this._more = []
    this._moreCallbacks = []
    this._requests = new Map()
    this._seq = 0
    this._ports = 0
    this._iterators = new Set()
    this._identity = undefined
    this._linger = -1
    this._sndhwm = 1000
    this._rcvhwm = 1000
    this._lastEndpoint = ''
    this._stored = new Map() // option number -> value, for options the engine does not act on yet
    this._monitoring = false
  }

  // --- endpoints ---------------------------------------------------------------------

  /** Binds in the background; `cb(err)` when done. Returns the socket. */
  bind (addr, cb) {
    if (this._refuse(cb)) return this
    try {
      checkAddress(addr)
      this._flush()
      const req = String(++this._seq)
      this._handle.bind(addr, req)
      this._requests.set(req, { addr, cb, bind: true })
      this._hold()
    } catch (err) {
      if (typeof cb !== 'function') throw err
      process.nextTick(cb, err)
    }
    return this
  }

  /** Binds now (blocks only for the bind); ZMQ_LAST_ENDPOINT then holds the resolved endpoint. */
  bindSync (addr) {
    this._refuse()
    checkAddress(addr)
    this._flush()
    this._lastEndpoint = this._handle.bindSync(addr)
    this._ports++
    this._hold()
    return this
  }

  /** Unbinds in the background; `cb(err)` when done. */
  unbind (addr, cb) {
    if (this._refuse(cb)) return this
    try {
      checkAddress(addr)
      this._flush()
      const req = String(++this._seq)
      this._handle.unbind(addr, req)
      this._requests.set(req, { addr, cb, bind: false })
      // Its callback is owed: the process stays up until the answer comes.
      this._hold()
    } catch (err) {
      if (typeof cb !== 'function') throw err
      process.nextTick(cb, err)
    }
    return this
  }

  unbindSync (addr) {
    return this.unbind(addr)
  }

  /** Connects in the background (reconnecting); throws EINVAL for a malformed endpoint. */
  connect (addr) {
    this._refuse()
    checkAddress(addr)
    this._flush()
    this._handle.connect(addr)
    this._ports++
    this._hold()
    return this
  }

  disconnect (addr) {
    this._refuse()
    checkAddress(addr)
    this._flush()
    this._handle.disconnect(addr)
    this._portGone()
    return this
  }

  // --- messages ------------------------------------------------------------------------

  /**
   * Sends a message (a frame, or an array of frames). With ZMQ_SNDMORE the frames are held and go
   * out with the next send without it. Returns a Promise when no callback is given.
   */
  send (msg, flags, cb) {
    if (typeof flags === 'function') {
      cb = flags
      flags = 0
    }
    if (cb !== undefined && typeof cb !== 'function') {
      throw codeError('EINVAL', 'callback must be a function', TypeError)
    }
    let err = null
    if (this._closed) err = codeError('ENOTSOCK', 'Socket is closed')
    else if (this.type === 'sub' || this.type === 'pull') err = codeError('ENOTSUP', `cannot send on a ${this.type} socket`)
    if (err === null) {
      try {
        this._queue(msg, flags, cb)
      } catch (e) {
        err = e
      }
    }
    if (err !== null) {
      if (cb) {
        process.nextTick(cb, err)
        return SENT
      }
      throw err
    }
    if (cb && !this._acked) process.nextTick(cb)
    return SENT
  }

  /** Whether send callbacks wait for the engine's verdict (a ROUTER with ZMQ_ROUTER_MANDATORY). */
  get _acked () {
    return this.type === 'router' && this._stored.get(33) === 1
  }

  _queue (msg, flags, cb) {
    const parts = Array.isArray(msg) ? msg.map(toFrame) : [toFrame(msg)]
    if ((flags | 0) & ZMQ_SNDMORE) {
      for (const p of parts) this._more.push(p)
      return
    }
    const frames = this._more.length > 0 ? this._more.concat(parts) : parts
    this._more = []
    if (frames.length === 0) throw codeError('EINVAL', 'a message needs at least one frame', TypeError)
    const w = this._commands()
    if (cb && this._acked) {
      // The callback gets libzmq's verdict (EHOSTUNREACH for an unknown peer) once the engine has it.
      const req = String(++this._seq)
      this._requests.set(req, { cb, send: true })
      w.begin(C_SEND_ACK, frames.length + 1)
      w.frame(req)
    } else {
      w.begin(C_SEND, frames.length)
    }
    for (let i = 0; i < frames.length; i++) w.frame(frames[i])
  }

  /** Stops reading the socket; messages already received are held until resume(). */
  pause () {
    if (!this._closed && !this._paused) {
      this._paused = true
      this._flush()
      this._handle.pause()
    }
    return this
  }

  resume () {
    if (!this._closed && this._paused) {
      this._paused = false
      this._reading = false
      this._flush()
      this._handle.resume()
      const held = this._held
      this._held = []
      for (const frames of held) this._deliver(frames)
    }
    return this
  }

  /**
   * The next message (an array of Buffers) while paused, or null when none is ready (the old
   * module's read()); a null asks the engine for more, so a later read() finds it.
   */
  read () {
    if (this._closed) return null
    if (this._held.length > 0) return this._held.shift()
    if (this._paused && !this._reading) {
      this._reading = true
      this._handle.resume()
    }
    return null
  }

  /**
   * Emits the engine's peer events as `(value, endpoint)`: 'connect', 'connect_delay',
   * 'connect_retry', 'listen', 'bind_error', 'accept', 'accept_error', 'close', 'close_error',
   * 'disconnect' (zmq.events). `value` is libzmq's: the fd, the retry pause in ms for
   * connect_retry, the errno for the *_error events. The old module read its monitor socket every
   * `interval` ms, `numOfEvents` at a time; here the engine reports each event as it happens, in
   * the batch of the socket's other events, so both arguments are checked and need no effect.
   */
  monitor (interval, numOfEvents) {
    this._refuse()
    if (interval !== undefined && !(Number.isFinite(interval) && interval >= 0)) {
      throw codeError('EINVAL', `monitor interval must be a number of ms >= 0; received ${String(interval)}`, TypeError)
    }
    if (numOfEvents !== undefined && !(Number.isInteger(numOfEvents) && numOfEvents >= 0)) {
      throw codeError('EINVAL', `monitor numOfEvents must be an integer >= 0; received ${String(numOfEvents)}`, TypeError)
    }
    if (!this._monitoring) {
      this._monitoring = true
      this._flush()
      this._handle.monitor(true)
    }
    return this
  }

  /** Stops monitor events (a no-op when not monitoring). */
  unmonitor () {
    if (this._monitoring && !this._closed) {
      this._monitoring = false
      this._flush()
      this._handle.monitor(false)
    }
    return this
  }

  subscribe (filter) {
    this._refuse()
    this._handle.subscribe(toBytes(filter, 'filter'))
    return this
  }

  unsubscribe (filter) {
    this._refuse()
    this._handle.unsubscribe(toBytes(filter, 'filter'))
    return this
  }

  /** Closes the socket; queued messages are flushed for at most ZMQ_LINGER. 'close' follows. */
  close (cb) {
    if (this._closed) {
      if (typeof cb === 'function') process.nextTick(cb)
      return this
    }
    this._flush()
    this._closed = true
    this._monitoring = false
    releaseSocket()
    if (typeof cb === 'function') this.once('close', () => cb())
    // Held until the native side confirms, so queued messages get their linger.
    this._hold()
    this._handle.close()
    return this
  }

  get closed () { return this._closed }

  // --- options -------------------------------------------------------------------------

  get identity () { return this._identity }
  set identity (v) {
    const bytes = toBytes(v, 'identity')
    this._handle.setIdentity(bytes)
    this._identity = v
  }

  get routingId () { return this._identity }
  set routingId (v) { this.identity = v }

  get linger () { return this._linger }
  set linger (v) {
    checkInt(v, 'linger', -1)
    this._handle.setLinger(v)
    this._linger = v
  }

  get sndhwm () { return this._sndhwm }
  set sndhwm (v) {
    this._handle.setHwm(checkInt(v, 'sndhwm', 0), this._rcvhwm)
    this._sndhwm = v
  }

  get rcvhwm () { return this._rcvhwm }
  set rcvhwm (v) {
    this._handle.setHwm(this._sndhwm, checkInt(v, 'rcvhwm', 0))
    this._rcvhwm = v
  }

  /**
   * Who this server admits (an extension; libzmq asks a ZAP handler): `{ users: { name: password } }`
   * for PLAIN (without it a PLAIN server admits nobody, as libzmq with no handler), `{ curveClients:
   * [publicKey, ...] }` for CURVE (without it any client with a valid handshake, as libzmq), or `{ handler }`,
   * a function asked synchronously during each handshake, which then alone decides (`lib/authenticate.js`).
   */
  authorize ({ users, curveClients, handler } = {}) {
    this._refuse()
    const clients = curveClients === undefined ? undefined : curveClients.map((k) => keys.z85Encode(typeof k === 'string' ? keys.z85Decode(k) : k))
    this._handle.setAuthorized(users, clients, handler === undefined ? undefined : engineHandler(this, handler))
    return this
  }

  /**
   * The engine's counters (an extension): `{ accepted, active, handshaking, refused: { reason: n },
   * handshakeEof, dial: { attempts, failed, connected } }`; `{}` before the first bind or connect.
   */
  stats () {
    this._refuse()
    this._flush()
    return JSON.parse(this._handle.statsSync())
  }

  get last_endpoint () { return this._lastEndpoint } // eslint-disable-line camelcase
  get lastEndpoint () { return this._lastEndpoint }

  _typeNumber () { return TYPE_NUMBERS[this.type] }

  // --- async iteration -----------------------------------------------------------------

  /** `for await (const frames of sock)`: each message as an array of Buffers; ends at close. */
  [Symbol.asyncIterator] () {
    const it = { queue: [], waiters: [], done: false }
    this._iterators.add(it)
    const finish = () => {
      this._iterators.delete(it)
      it.done = true
      for (const w of it.waiters.splice(0)) w.resolve({ value: undefined, done: true })
    }
    it.finish = finish
    if (this._closed) finish()
    return {
      next: () => {
        if (it.queue.length > 0) return Promise.resolve({ value: it.queue.shift(), done: false })
        if (it.done) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => it.waiters.push({ resolve }))
      },
      return: () => {
        finish()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator] () { return this }
    }
  }

  // --- native events -------------------------------------------------------------------

  _refuse (cb) {
    if (!this._closed) return false
    const err = codeError('ENOTSOCK', 'Socket is closed')
    if (typeof cb === 'function') {
      process.nextTick(cb, err)
      return true
    }
    throw err
  }

  _portGone () {
    if (this._ports > 0) this._ports--
    if (this._ports === 0 && !this._closed) this._release()
  }

  _onEvents (batch) {
    const r = new BatchReader(batch)
    let kind
    while ((kind = r.next()) !== -1) {
      switch (kind) {
        case E_MESSAGE: {
          const frames = new Array(r.remaining)
          for (let i = 0; i < frames.length; i++) frames[i] = r.view()
          if (this._paused) this._held.push(frames)
          else this._deliver(frames)
          if (this._reading) {
            // read() let one batch in while paused: pause again.
            this._reading = false
            this._handle.pause()
          }
          break
        }
        case E_BOUND: this._settle(r.str(), null, r.str()); break
        case E_UNBOUND: this._settle(r.str(), null, r.str()); break
        case E_ERROR: {
          const req = r.str()
          const code = r.str()
          const err = codeError(code, r.str())
          this._settle(req, err)
          break
        }
        case E_SENT: this._settle(r.str(), null); break
        case E_MONITOR: {
          const name = compat.events[r.str()]
          const value = Number(r.str())
          const endpoint = r.str()
          if (this._monitoring && name !== undefined) this._emitSafe(name, value, endpoint)
          break
        }
        case E_CLOSED: this._onClosed(); break
      }
    }
  }

  _deliver (frames) {
    for (const it of this._iterators) {
      const w = it.waiters.shift()
      if (w) w.resolve({ value: frames, done: false })
      else it.queue.push(frames)
    }
    if (this.listenerCount('message') > 0) {
      try {
        this.emit('message', ...frames)
      } catch (err) {
        this._userError(err)
      }
    }
  }

  _settle (req, err, endpoint) {
    const pending = this._requests.get(req)
    if (pending === undefined) {
      // An error no call waits for (a failed connect, a REP reply with no request...).
      if (err) this._asyncError(err)
      return
    }
    this._requests.delete(req)
    if (pending.send) {
      this._safely(pending.cb, this, err)
      return
    }
    if (err === null && pending.bind) {
      this._lastEndpoint = endpoint
      this._ports++
      this._emitSafe('bind', endpoint)
    } else if (err === null) {
      this._emitSafe('unbind', endpoint)
      this._portGone()
    } else if (this._ports === 0 && !this._closed) {
      this._release()
    }
    if (typeof pending.cb === 'function') this._safely(pending.cb, this, err)
    else if (err) this._asyncError(err)
  }

  _asyncError (err) {
    if (this.listenerCount('error') > 0) this._emitSafe('error', err)
    else process.emitWarning(err.message, { code: err.code })
  }

  _onClosed () {
    this._release()
    for (const it of this._iterators) it.finish()
    this._emitSafe('close')
  }
}

/** A new socket of `type`; `options` are set as properties first (e.g. { identity: 'a' }). */
function socket (type, options) {
  const sock = new Socket(type)
  if (options !== null && typeof options === 'object') {
    for (const key of Object.keys(options)) sock[key] = options[key]
  }
  return sock
}

installOptions(Socket)

// The `zeromq` package's camelCase names for the options of our engine, on the same socket.
const CAMEL = {
  curveServer: 'curve_server',
  curvePublicKey: 'curve_publickey',
  curveSecretKey: 'curve_secretkey',
  curveServerKey: 'curve_serverkey',
  plainServer: 'plain_server',
  plainUsername: 'plain_username',
  plainPassword: 'plain_password',
  mandatory: 'router_mandatory',
  routerMandatory: 'router_mandatory',
  reconnectInterval: 'reconnect_ivl',
  reconnectMaxInterval: 'reconnect_ivl_max',
  maxMessageSize: 'maxmsgsize',
  handshakeInterval: 'handshake_ivl',
  heartbeatInterval: 'heartbeat_ivl',
  heartbeatTimeout: 'heartbeat_timeout',
  heartbeatTimeToLive: 'heartbeat_ttl',
  relaxed: 'req_relaxed',
  correlate: 'req_correlate',
  sendHighWaterMark: 'sndhwm',
  receiveHighWaterMark: 'rcvhwm'
}
for (const [camel, name] of Object.entries(CAMEL)) {
  Object.defineProperty(Socket.prototype, camel, {
    configurable: true,
    enumerable: false,
    get () {
      const v = this.getsockopt(name)
      return name === 'curve_server' || name === 'plain_server' || name === 'router_mandatory' ? v === 1 : v
    },
    set (v) { this.setsockopt(name, v) }
  })
}

module.exports = {
  ...constants,
  ...compat.LONG_OPTIONS,
  ...compat.FLAGS,
  version: compat.VERSION,
  curveKeypair: () => {
    const pair = keys.curveKeyPair()
    return { public: pair.publicKey, secret: pair.secretKey }
  },
  curveKeyPair: keys.curveKeyPair,
  options: compat.options,
  events: compat.events,
  Context,
  Socket,
  proxy: require('./compat/proxy').proxy,
  socket,
  createSocket: socket,
  types: Object.freeze({ ...TYPE_NUMBERS })
}

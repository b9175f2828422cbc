'use strict'
// The Bus of the busmq API over the native BusmqHandle: connection, online/offline, and the
// routing of native event records to queue objects and callbacks. Redis work happens in Rust
// (src/busmq/); this file only converts arguments and emits events.
const crypto = require('crypto')
const { NativeEngine } = require('../engine')
const { BatchReader } = require('../boundary')
const K = require('./kinds')
const { BusmqError } = require('./errors')
const { urlList, urlOfClient, tlsOfClient, tlsSettings } = require('./urls')

let Queue = null // required lazily: queue.js requires nothing from here, but keeps the graph one-way

class Bus extends NativeEngine {
  constructor (options) {
    super()
    this.options = Object.assign({ layout: 'direct', redisOptions: {} }, options || {})
    this.id = 'bus:' + crypto.randomBytes(8).toString('hex')
    this.logger = this.options.logger || null
    this._urls = urlList(this.options.redis)
    // Redis's own limit for one value (proto-max-bulk-len, 512 MB by default).
    this._maxMessageSize = this.options.maxMessageSize || 512 * 1024 * 1024
    this._online = false
    this._connected = false
    this._nextQid = 1
    this._nextRid = 1
    this._weak = new Map() // qid -> WeakRef(queue)
    this._active = new Map() // qid -> queue, while attached (a consumer must not be collected)
    this._callbacks = new Map() // rid -> callback
    this._sentBelow = 0 // rids below this went to a connection now stopping
    this._gone = new FinalizationRegistry((qid) => this._forget(qid))
    this._handle = null // set by connect(); commands wait in the writer until then
    this._clientTls = null // TLS options of the client given to withRedis()
    this._lane = false // the handle has a fast lane (see queue.js)
  }

  /** Attaches a logger (`debug`/`info`/`error` methods). Returns the bus. */
  withLog (logger) {
    this.logger = logger
    return this
  }

  /**
   * Takes the connection settings (host, port, password, db, TLS) of a node-redis or ioredis
   * client. Returns the bus.
   */
  withRedis (client) {
    const url = urlOfClient(client)
    if (url) this._urls = [url]
    this._clientTls = tlsOfClient(client)
    return this
  }

  /** Connects to `urls` (or to `create({ redis })`'s). `online` follows. */
  connect (urls) {
    if (this._connected) {
      this._emitError('EALREADY', 'already connected')
      return
    }
    const list = urls !== undefined ? urlList(urls) : this._urls
    if (list.some((u) => typeof u !== 'string')) {
      this._emitError('ERR_INVALID_ARG_TYPE', 'redis urls must be strings')
      return
    }
    if (list.length === 0) {
      // busmq with no urls says online and does nothing else.
      process.nextTick(() => this._emitSafe('online'))
      return
    }
    // A fresh handle per connect(), so a bus can connect again after disconnect().
    const { BusmqHandle } = require('../native')
    const handle = new BusmqHandle(this._batchHandler((b) => this._dispatch(b, handle)))
    try {
      // True when pushes may take the fast lane (one plain url, JS-thread mode).
      const lane = handle.start(list, this.id, layoutOf(this.options, this._clientTls)) === true
      handle._stopsLeft = lane ? 2 : 1 // the loop's STOPPED, and the lane's
      // ZMQBUS_BUSMQ_LANE=pop (a benchmark's knob): pushes go the loop's way.
      this._lane = lane && process.env.ZMQBUS_BUSMQ_LANE !== 'pop'
    } catch (err) {
      this._emitError(err.code || 'EINVAL', err.message)
      return
    }
    if (this._everConnected) this._reopen()
    this._everConnected = true
    this._connected = true
    this._handle = handle
    this._hold()
    this._commands() // flush what was called before connect()
  }

  /** Closes the connections; `offline` follows. */
  disconnect () {
    if (!this._connected) return
    this._connected = false
    for (const ref of this._weak.values()) {
      const q = ref.deref()
      if (q && q._held && q._held.length > 0) q._flushHeld()
    }
    this._lane = false
    this._flush()
    const handle = this._handle
    this._handle = null // later calls wait for the next connect()
    this._sentBelow = this._nextRid // callbacks of calls sent to this connection
    handle.stop()
  }

  /** True while connected to Redis. */
  isOnline () {
    return this._online
  }

  /** A new Queue object for queue `name`. */
  queue (name) {
    if (!Queue) Queue = require('./queue').Queue
    return new Queue(this, name)
  }

  /** A new Channel object (roles default to 'local' and 'remote'). */
  channel (name, local, remote) {
    const { Channel } = require('./channel')
    return new Channel(this, name, local, remote)
  }

  /** Turns `methods` of `object` into Promise-returning ones (busmq 3.1). Returns `object`. */
  promisify (object, methods) {
    for (const m of methods) object[m] = require('util').promisify(object[m])
    return object
  }

  /** A pub/sub object on channel `bus:pubsub:<name>` (busmq 3.1). */
  pubsub (name) {
    const { Pubsub } = require('./pubsub')
    return new Pubsub(this, name)
  }

  /**
   * Makes `object` persistable in hash `bus:persisted:<name>`: `attributes` become tracked
   * properties, and `save`/`load`/`persist(ttl)`/`unpersist` are added (busmq 3.1). Returns it.
   */
  persistify (name, object, attributes) {
    return require('./persistify').persistify(this, name, object, attributes)
  }

  /** A service object: request/reply over queue `service:<name>` (busmq 3.1). */
  service (name) {
    const { Service } = require('./service')
    return new Service(this, name)
  }

  _flush () {
    // Before connect() there is nobody to send to: keep the commands for later.
    if (this._handle) super._flush()
    else this._flushQueued = false
  }

  /** An id for an object that hears native events (queues, pub/subs), held weakly. */
  _registerObject (obj) {
    const qid = this._nextQid++
    this._weak.set(qid, new WeakRef(obj))
    this._gone.register(obj, qid)
    return qid
  }

  _register (queue, name) {
    const qid = this._registerObject(queue)
    const out = this._commands()
    out.begin(K.C_OPEN, 2)
    out.str(String(qid))
    out.str(name)
    return qid
  }

  /** A new handle knows no queue objects: open the live ones again, ahead of what waits. */
  _reopen () {
    const pending = Buffer.from(this._out.take())
    const out = this._commands()
    const others = []
    for (const [qid, ref] of this._weak) {
      const q = ref.deref()
      if (!q) continue
      if (q.type === 'pubsub') {
        others.push(q)
        continue
      }
      out.begin(K.C_OPEN, 2)
      out.str(String(qid))
      out.str(q.name)
    }
    for (const p of others) p._reopen()
    if (pending.length > 0) {
      out.ensure(pending.length)
      out.buf.set(pending, out.pos)
      out.pos += pending.length
      out.count++
    }
  }

  _forget (qid) {
    this._weak.delete(qid)
    const out = this._commands()
    out.begin(K.C_FORGET, 1)
    out.str(String(qid))
  }

  /** A call on a plain key (persisted objects): `cb(err, value)`. */
  _keyCall (cb, key, op, ...args) {
    const out = this._commands()
    out.begin(K.C_KEY, 4 + args.length)
    out.str('0')
    out.str(String(this._callback(cb)))
    out.str(key)
    out.str(op)
    for (const a of args) out.str(a)
  }

  /** Tells the fast lane at once that consumer `qid` stopped (or consumes again). */
  _haltConsumer (qid, halted) {
    if (this._handle && this._handle._stopsLeft === 2) this._handle.haltConsumer(qid, halted)
  }

  _callback (cb) {
    if (typeof cb !== 'function') return 0
    const rid = this._nextRid++
    if (this._nextRid > 0xfffffff0) this._nextRid = 1
    this._callbacks.set(rid, cb)
    return rid
  }

  _queueOf (qid) {
    return this._active.get(qid) || this._weak.get(qid)?.deref()
  }

  _emitError (code, message) {
    const err = new BusmqError(code, message)
    process.nextTick(() => this._emitSafe('error', err))
  }

  _dispatch (batch, handle) {
    const r = new BatchReader(batch)
    for (let kind = r.next(); kind !== -1; kind = r.next()) {
      if (kind >= K.E_ATTACHING && kind <= K.E_CLOSED) {
        const qid = Number(r.str())
        const q = this._queueOf(qid)
        if (q) q._event(kind, r)
        if (kind === K.E_ATTACHED && q) this._active.set(qid, q)
        if (kind === K.E_DETACHED) this._active.delete(qid)
      } else if (kind >= K.E_SUBSCRIBED && kind <= K.E_PUBSUB_MESSAGE) {
        const p = this._queueOf(Number(r.str()))
        if (p) p._event(kind, r)
      } else if (kind === K.E_ERROR) {
        const q = this._queueOf(Number(r.str()))
        const err = new BusmqError(r.str(), r.str())
        if (q) q._emitError(err)
        else this._emitSafe('error', err)
      } else {
        this._busEvent(kind, r, handle)
      }
    }
  }

  _busEvent (kind, r, handle) {
    switch (kind) {
      case K.E_PUSHED: {
        const cb = this._take(r)
        const id = r.str()
        if (cb) this._safely(cb, null, null, id === '' ? null : Number(id))
        break
      }
      case K.E_REPLY: {
        const cb = this._take(r)
        if (cb) this._safely(cb, null, null, replyValue(r))
        break
      }
      case K.E_REPLY_ERROR: {
        const cb = this._take(r)
        if (cb) this._safely(cb, null, new BusmqError(r.str(), r.str()))
        break
      }
      case K.E_ONLINE:
        this._online = true
        this._emitSafe('online')
        break
      case K.E_OFFLINE:
        this._online = false
        this._emitSafe('offline', r.str())
        break
      case K.E_BUS_ERROR:
        this._emitSafe('error', new BusmqError(r.str(), r.str()))
        break
      case K.E_STOPPED:
        if (--handle._stopsLeft > 0) break
        this._cancelSent()
        if (this._handle) break // an earlier connection's end, after a reconnect
        this._release()
        if (this._online) {
          this._online = false
          this._emitSafe('offline')
        }
        break
    }
  }

  /** Calls that went to a stopped connection and got no answer will never get one. */
  _cancelSent () {
    for (const [rid, cb] of this._callbacks) {
      if (rid >= this._sentBelow) continue
      this._callbacks.delete(rid)
      this._safely(cb, null, new BusmqError('ECANCELED', 'the bus was disconnected before redis answered'))
    }
  }

  _take (r) {
    const rid = Number(r.str())
    const cb = this._callbacks.get(rid)
    this._callbacks.delete(rid)
    return cb
  }
}

/**
 * The native layout settings from `create()`'s `layout` and `redisOptions` (ioredis names),
 * with TLS from `redisOptions.tls` or else from the client given to `withRedis()`.
 */
function layoutOf (options, clientTls) {
  const ro = options.redisOptions || {}
  const layout = { kind: String(options.layout) }
  const tls = tlsSettings(ro.tls !== undefined ? ro.tls : clientTls)
  if (tls) layout.tls = tls
  if (typeof ro.name === 'string') layout.masterName = ro.name
  if (typeof ro.password === 'string') layout.password = ro.password
  if (Number.isInteger(ro.db) && ro.db >= 0) layout.db = ro.db
  return layout
}

function replyValue (r) {
  const type = r.str()
  switch (type) {
    case 'n': return null
    case 'b': return r.str() === '1'
    case 'i': return Number(r.str())
    case 's': return r.str()
    case 'h': {
      const obj = {}
      while (r.remaining >= 2) obj[r.str()] = r.str()
      return obj
    }
    default: return undefined
  }
}


module.exports = { Bus }

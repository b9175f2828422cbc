'use strict'
// pigato-compatible Broker. Routing, dispatch, heartbeats, the reply cache and the $dir
// notices all run in Rust (src/mdp/broker.rs); no JavaScript touches a request. JS only
// sees lifecycle events and, when a persistence controller is configured, persist calls.
const { randomUUID } = require('crypto')
const native = require('./native')
const K = require('./kinds')
const check = require('./validate')
const { NativeEngine } = require('./engine')
const { BatchReader } = require('./boundary')
const { securityConf } = require('./security')

const DEFAULTS = { heartbeat: 2500, heartbeatLiveness: 3, dmode: 'load', intch: 'tcp://127.0.0.1:55550' }

class Broker extends NativeEngine {
  constructor (endpoint, conf) {
    super()
    check.endpoint(endpoint, 'endpoint')
    conf = check.conf(conf)
    check.numbers(conf, [['heartbeat', 1], ['heartbeatLiveness', 1], ['cacheMaxEntries', 0], ['cacheMaxBytes', 0], ['maxMsgSize', 1], ['handshakeTimeout', 1]])
    // The request bounds (refusals with C_QUEUE_FULL beyond them); Infinity lifts one, as pigato has none.
    for (const f of ['maxQueue', 'maxBytes']) if (conf[f] !== Infinity) check.numbers(conf, [[f, 1]])
    check.functions(conf, ['onStart', 'onStop'])
    if (conf.dmode !== undefined && conf.dmode !== 'load' && conf.dmode !== 'rand') {
      throw check.typeError(`The "conf.dmode" option must be 'load' or 'rand'; received ${JSON.stringify(conf.dmode)}`)
    }
    if (conf.intch !== undefined && conf.intch !== false) check.endpoint(conf.intch, 'conf.intch')
    if (conf.name !== undefined) check.string(conf.name, 'conf.name')
    this.endpoint = endpoint
    this.conf = Object.assign({ name: 'B' + randomUUID() }, DEFAULTS, conf)
    this.ctrl = this.conf.ctrl || null
    this._security = securityConf(this.conf)
    this._handle = null
    this._pending = { start: [], stop: [] }
  }

  start (cb) {
    if (typeof cb === 'function') this._pending.start.push(cb)
    if (this._handle) return
    const handle = new native.BrokerHandle(this._batchHandler((batch) => this._onBatch(handle, batch)))
    // A configuration the native side refuses (a key that is not a key) throws here, with nothing held.
    handle.start(JSON.stringify({
      endpoint: this.endpoint,
      intch: this.conf.intch || '',
      name: this.conf.name,
      heartbeat: this.conf.heartbeat,
      heartbeatLiveness: this.conf.heartbeatLiveness,
      dmode: this.conf.dmode,
      persist: !!this.ctrl,
      cacheMaxEntries: this.conf.cacheMaxEntries,
      cacheMaxBytes: this.conf.cacheMaxBytes,
      maxQueue: bound(this.conf.maxQueue),
      maxBytes: bound(this.conf.maxBytes),
      maxMsgSize: this.conf.maxMsgSize,
      handshakeTimeout: this.conf.handshakeTimeout,
      ...this._security
    }))
    this._handle = handle
    this._hold()
  }

  stop (cb) {
    if (typeof cb === 'function') this._pending.stop.push(cb)
    const handle = this._handle
    if (!handle) {
      if (typeof cb === 'function') process.nextTick(() => this._stopped())
      return
    }
    this._stopping = handle
    handle.stop()
  }

  /** Counters of the running broker (requests, replies, drops by reason, workers, queued). */
  stats () {
    return this._handle ? JSON.parse(this._handle.stats()) : null
  }

  _onBatch (handle, batch) {
    const r = new BatchReader(batch)
    for (let kind = r.next(); kind !== -1; kind = r.next()) {
      switch (kind) {
        case K.E_STARTED: this._started(handle); break
        case K.E_STOPPED:
          if (handle === this._handle) this._handle = null
          this._release()
          this._stopped()
          break
        case K.E_ERROR: {
          const code = r.str()
          const msg = r.str()
          const err = new Error(msg)
          err.code = code
          if (this.listenerCount('error') > 0) this._emitSafe('error', err)
          else process.emitWarning(err)
          // A busy intch port is only reported (the broker still serves); a busy main endpoint means
          // this broker never started.
          const intch = msg.startsWith('cannot bind intch')
          if (code === 'EADDRINUSE' && !intch && handle === this._handle && !this._startedOnce) {
            this._handle = null
            this._release()
          }
          break
        }
        case K.E_PERSIST_SET: this._persistSet(r.str(), r.str(), r.str(), r.str(), r.str()); break
        case K.E_PERSIST_DEL: if (this.ctrl) this._safely(this.ctrl.rdel, this.ctrl, { rid: r.str() }); break
      }
    }
  }

  _started (handle) {
    this._startedOnce = true
    const done = () => {
      if (this.conf.onStart) this._safely(this.conf.onStart, this)
      this._emitSafe('start')
      for (const cb of this._pending.start.splice(0)) this._safely(cb, this)
    }
    if (!this.ctrl || typeof this.ctrl.rgetall !== 'function') return done()
    this.ctrl.rgetall((err, reqs) => {
      if (!err && reqs && handle === this._handle) this._restore(reqs)
      done()
    })
  }

  _restore (reqs) {
    const w = this._commands()
    for (const req of Object.values(reqs)) {
      if (!req || !req.rid || !Array.isArray(req.msg)) continue
      const m = req.msg
      w.begin(K.B_RESTORE, 5)
      w.str(String(req.rid))
      w.str(String(req.clientId || m[0] || ''))
      w.str(String(req.service || m[3] || ''))
      w.str(String(m[5] || ''))
      w.str(String(m[6] || ''))
    }
  }

  _persistSet (rid, clientId, service, data, opts) {
    if (!this.ctrl) return
    let o = {}
    try { o = JSON.parse(opts) } catch (e) {}
    const req = { rid, clientId, service, opts: o, msg: [clientId, 'C', '2', service, rid, data, opts] }
    this._safely(this.ctrl.rset, this.ctrl, req)
  }

  _stopped () {
    if (this.conf.onStop) this._safely(this.conf.onStop, this)
    this._emitSafe('stop')
    for (const cb of this._pending.stop.splice(0)) this._safely(cb, this)
  }
}

/** A request bound for the native side: Infinity (no bound) as the largest exact number. */
function bound (v) {
  return v === Infinity ? Number.MAX_SAFE_INTEGER : v
}

module.exports = Broker

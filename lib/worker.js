'use strict'
// pigato-compatible Worker over the native MDP worker (src/mdp, src/binding/worker.rs).
// Heartbeats, liveness and reconnects run in Rust; requests arrive here in batches and each
// becomes a 'request' event with a Reply, an object-mode Writable built when used (lib/reply.js).
const { randomUUID } = require('crypto')
const native = require('./native')
const K = require('./kinds')
const check = require('./validate')
const { MdpSession } = require('./session')
const { BatchReader } = require('./boundary')
const { securityJson } = require('./security')
const { MultiWorker } = require('./multi')
const { Reply } = require('./reply')

const DEFAULTS = { heartbeat: 2500, reconnect: 1000, concurrency: 100 }

class Worker extends MdpSession {
  constructor (broker, service, conf) {
    // A list of brokers: one member worker per broker (lib/multi.js).
    if (Array.isArray(broker)) return new MultiWorker(Worker, broker, service, conf)
    super()
    check.endpoint(broker, 'broker')
    check.string(service, 'service')
    conf = check.conf(conf)
    check.numbers(conf, [['heartbeat', 1], ['reconnect', 0], ['concurrency', -1]])
    check.functions(conf, ['onConnect', 'onDisconnect'])
    if (conf.prefix !== undefined) check.string(conf.prefix, 'conf.prefix')
    this.broker = broker
    this.service = service
    this.conf = Object.assign({ prefix: 'W' + randomUUID() }, DEFAULTS, conf)
    // Requests being served, by slot: a number the native side gives each request, which keeps its
    // envelope (client id, rid) and is answered by it (issue 20).
    this.reqs = new Map()
    // Replies not sent: their request had ended, expired, or belonged to an ended session.
    this.droppedReplies = 0
    this._security = securityJson(this.conf)
    this._handle = null
    // The last request opts text and its parse (see _parseOpts).
    this._lastOpts = null
    this._watchConcurrency()
  }

  /** `worker.conf.concurrency = n` reaches the broker with the next heartbeat. */
  _watchConcurrency () {
    let value = this.conf.concurrency
    Object.defineProperty(this.conf, 'concurrency', {
      enumerable: true,
      configurable: true,
      get: () => value,
      set: (n) => {
        if (typeof n !== 'number' || !Number.isFinite(n) || n < -1) {
          throw check.typeError(`The "conf.concurrency" option must be a number >= -1; received ${n}`)
        }
        value = n
        if (this._handle) {
          const w = this._commands()
          w.begin(K.W_CONCURRENCY, 1)
          w.str(String(n))
        }
      }
    })
  }

  start () {
    this._startSession((onEvents, identity) => {
      const handle = new native.WorkerHandle(onEvents)
      handle.start(this.broker, this.service, this.conf.prefix, identity,
        this.conf.heartbeat, this.conf.reconnect, this.conf.concurrency, this._security)
      return handle
    })
  }

  /** Requests of an ended session can no longer be answered (reply.active() turns false). */
  _sessionEnded () {
    this.reqs.clear()
  }

  /** Sends a heartbeat now; `opts` fields ride along with the concurrency. */
  heartbeat (opts) {
    if (!this._handle) return
    const w = this._commands()
    w.begin(K.W_HEARTBEAT, 1)
    w.str(JSON.stringify(Object.assign({}, opts, { concurrency: this.conf.concurrency })))
  }

  /** Sends a reply: `type` '6' partial, '3' final, '7' reject; `status` '0' or '-1'. */
  _reply (type, req, status, data, opts) {
    if (!this._handle || req.handle !== this._handle) {
      // Its session ended: slots are numbered per session, so it must not reach the new one.
      this.droppedReplies++
      return
    }
    const w = this._commands()
    w.begin(K.W_REPLY, 5)
    w.byte(type.charCodeAt(0))
    w.num(req.slot)
    w.byte(status === '-1' ? 1 : 0)
    const json = JSON.stringify(data)
    w.str(json === undefined ? '' : json)
    w.str(opts === undefined ? '' : isEmpty(opts) ? '{}' : JSON.stringify(opts))
  }

  /**
   * A request's opts, a fresh object each time (the handler may change it). Requests of one client
   * mostly carry the same opts text, so its parse is kept and copied: a copy of a flat object costs
   * a third of JSON.parse.
   */
  _parseOpts (text) {
    const last = this._lastOpts
    if (last !== null && last.text === text) return last.flat ? Object.assign({}, last.value) : JSON.parse(text)
    let value
    try { value = JSON.parse(text) } catch (e) { return {} }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
    this._lastOpts = { text, value, flat: isFlat(value) }
    return this._lastOpts.flat ? Object.assign({}, value) : JSON.parse(text)
  }

  _onBatch (handle, batch) {
    if (handle !== this._handle) return
    const r = new BatchReader(batch)
    for (let kind = r.next(); kind !== -1; kind = r.next()) {
      switch (kind) {
        case K.E_REQUEST: this._request(handle, r.num(), r.str(), r.str()); break
        case K.E_REQ_HEARTBEAT: {
          const req = this.reqs.get(r.num())
          if (req) req.beat = Date.now()
          break
        }
        case K.E_REQ_EXPIRED:
          // Nobody waits for it any more: reply.active() turns false, replies are dropped.
          this.reqs.delete(r.num())
          break
        case K.E_ERROR: {
          const code = r.str()
          if (this.listenerCount('error') > 0) this._emitSafe('error', code)
          break
        }
        default: this._sessionEvent(kind, r)
      }
    }
  }

  /** A request of session `handle`, tracked natively as `slot` (its client id and rid stay there). */
  _request (handle, slot, data, opts) {
    const req = { handle, slot, data: null, opts: {}, ended: false, beat: Date.now() }
    if (data) { try { req.data = JSON.parse(data) } catch (e) {} }
    if (opts) req.opts = this._parseOpts(opts)
    this.reqs.set(slot, req)
    const reply = new Reply(this, req)
    try {
      this.emit('request', req.data, reply, req.opts)
    } catch (err) {
      this._userError(err)
    }
  }
}

/** No own enumerable keys (a reply's untouched `opts`): its JSON is '{}'. */
function isEmpty (o) {
  if (o === null || typeof o !== 'object') return false
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) return false
  return Object.getPrototypeOf(o) === Object.prototype && typeof o.toJSON !== 'function'
}

/** Only primitive values: a shallow copy is a deep copy (and no own `__proto__`, which a copy would lose). */
function isFlat (o) {
  if (Object.prototype.hasOwnProperty.call(o, '__proto__')) return false
  for (const key in o) if (o[key] !== null && typeof o[key] === 'object') return false
  return true
}

module.exports = Worker
module.exports.Reply = Reply

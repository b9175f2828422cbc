'use strict'
// The Queue of the busmq API: argument checks and events. Every call becomes one command record
// for the bus's native loop (src/busmq/state/), which defers what needs `attached` or `online`.
const { EventEmitter } = require('events')
const K = require('./kinds')
const { BusmqError, typeError } = require('./errors')

class Queue extends EventEmitter {
  constructor (bus, name) {
    super()
    if (typeof name !== 'string' || name === '') throw typeError('queue name must be a non-empty string')
    this.bus = bus
    this.name = name
    this.id = 'bus:queue:' + name
    this._attached = false
    this._consuming = false
    this._pushed = 0
    this._consumed = 0
    this._ttl = 30
    this._qid = bus._register(this, name)
  }

  _cmd (kind, frames) {
    const out = this.bus._commands()
    out.begin(kind, frames.length + 1)
    out.str(String(this._qid))
    for (const f of frames) out.frame(f)
  }

  /** Attaches (creating the queue when missing); `attached(existed)` follows. */
  attach (options) {
    const o = options || {}
    const ttl = o.ttl === undefined ? 30 : o.ttl
    const maxsize = o.maxsize === undefined ? 0 : o.maxsize
    if (!Number.isInteger(ttl) || ttl < 1) throw typeError('ttl must be a positive integer (seconds)')
    if (!Number.isInteger(maxsize) || maxsize < 0) throw typeError('maxsize must be a non-negative integer')
    this.bus._active.set(this._qid, this)
    this._cmd(K.C_ATTACH, [String(ttl), String(maxsize), o.discoverable ? '1' : '0'])
  }

  /** Detaches; the queue lives on for its ttl. `detached` follows. */
  detach () { this._cmd(K.C_DETACH, []) }

  /** Pushes a string, object (JSON) or number; `cb(err, id)`, id null when the queue is full. */
  push (message, cb) {
    let payload
    if (typeof message === 'string' || Buffer.isBuffer(message)) payload = message
    else if (typeof message === 'object' && message !== null) payload = JSON.stringify(message)
    else if (typeof message === 'number' || typeof message === 'boolean') payload = String(message)
    else throw typeError('message must be a string, a Buffer, an object or a number')
    if (cb !== undefined && typeof cb !== 'function') throw typeError('callback must be a function')
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
    if (size > this.bus._maxMessageSize) {
      // Redis would refuse it and drop the connection, taking every other call with it.
      const err = new BusmqError('E2BIG', `message of ${size} bytes is over the limit of ${this.bus._maxMessageSize}`)
      if (cb) process.nextTick(cb, err)
      else process.nextTick(() => this._emitError(err))
      return false
    }
    this._pushed++
    this._cmd(K.C_PUSH, [String(this.bus._callback(cb)), payload])
    return true
  }

  /**
   * Starts consuming: `consuming(true)`, then `message(payload, id)` for each message. With
   * `reliable: true`, messages stay in the queue's `toack` list until `ack(id)`, and a new
   * reliable consumer first gets back every message after `last` that was never acked.
   */
  consume (options) {
    const o = options || {}
    const max = o.max === undefined || o.max === null ? -1 : Number(o.max)
    if (!Number.isFinite(max)) throw typeError('max must be a number')
    const frames = [o.remove === false ? '0' : '1', String(Math.trunc(max))]
    if (o.reliable) {
      const last = o.last === undefined || o.last === null ? 0 : Number(o.last)
      if (!Number.isInteger(last) || last < 0) throw typeError('last must be a non-negative integer id')
      frames.push(String(last))
    }
    this._cmd(K.C_CONSUME, frames)
  }

  /**
   * Acknowledges every message up to `id` (reliable mode). `cb(err)` once done (busmq calls it
   * on errors only, which leaves a promisified ack() pending for ever).
   */
  ack (id, cb) {
    const n = Number(id)
    if (!Number.isInteger(n) || n < 0) throw typeError('ack id must be a non-negative integer')
    this._query(cb, 'ack', String(this._ttl), String(n))
  }

  /** Promise-returning find/ttl/metadata/exists/count/flush/push/ack (busmq 3.1). */
  promisify () {
    return this.bus.promisify(this, ['find', 'ttl', 'metadata', 'exists', 'count', 'flush', 'push', 'ack'])
  }

  /** Stops consuming; messages of a pop already in flight are still delivered first. */
  stop () { this._cmd(K.C_STOP, []) }

  /** Detaches and deletes the queue's keys; `closed` follows. */
  close () { this._cmd(K.C_CLOSE, []) }

  isAttached (cb) {
    if (typeof cb === 'function') cb(this._attached)
    return this._attached
  }

  isConsuming () { return this._consuming }
  pushed (cb) { if (typeof cb === 'function') cb(null, this._pushed); return this._pushed }
  consumed (cb) { if (typeof cb === 'function') cb(null, this._consumed); return this._consumed }

  exists (cb) { this._query(cb, 'exists') }
  count (cb) { this._query(cb, 'count') }
  ttl (cb) { this._query(cb, 'ttl') }
  maxsize (cb) { this._query(cb, 'maxsize') }
  find (cb) { this._query(cb, 'find') }
  flush (cb) { this._query(cb, 'flush') }

  /** metadata(cb) | metadata(key, cb) | metadata(key, value, cb) | metadata(object, cb) */
  metadata (key, value, cb) {
    if (typeof key === 'function') return this._query(key, 'all')
    if (key !== null && typeof key === 'object') {
      const pairs = Object.entries(key).flatMap(([k, v]) => [k, String(v)])
      if (pairs.length === 0) return typeof value === 'function' && value(null)
      return this._query(value, 'set', String(this._ttl), ...pairs)
    }
    if (typeof key !== 'string') throw typeError('metadata key must be a string')
    if (value === undefined || typeof value === 'function') return this._query(value, 'get', key)
    this._query(cb, 'set', String(this._ttl), key, String(value))
  }

  _query (cb, op, ...args) {
    this._cmd(K.C_QUERY, [String(this.bus._callback(cb)), op, ...args])
  }

  _emitError (err) {
    // No listener on the queue: the bus's listener hears it (busmq would throw instead).
    if (this.listenerCount('error') > 0) this._emit('error', err)
    else this.bus._emitSafe('error', err)
  }

  /** One native event for this queue; `r` is positioned after the qid frame. */
  _event (kind, r) {
    switch (kind) {
      case K.E_ATTACHING: return this._emit('attaching')
      case K.E_ATTACHED: {
        this._attached = true
        const existed = r.str() === '1'
        this._ttl = Number(r.str())
        return this._emit('attached', existed)
      }
      case K.E_DETACHING: return this._emit('detaching')
      case K.E_DETACHED:
        this._attached = false
        this._consuming = false
        return this._emit('detached')
      case K.E_CONSUMING:
        this._consuming = r.str() === '1'
        return this._emit('consuming', this._consuming)
      case K.E_MESSAGE: {
        this._consumed++
        const id = Number(r.str())
        return this._emit('message', r.str(), id)
      }
      case K.E_CLOSED: return this._emit('closed')
    }
  }

  _emit (name, ...args) {
    try {
      this.emit(name, ...args)
    } catch (err) {
      this.bus._userError(err)
    }
  }
}

module.exports = { Queue }

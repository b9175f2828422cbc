'use strict'
// The Queue of the busmq API: argument checks and events. Every call becomes one command record
// for the bus's native loop (src/busmq/state/), which defers what needs `attached` or `online`.
// With the bus's fast lane (src/busmq/lane/), a push of an attached queue goes to Redis from
// this thread instead; the queue then keeps its calls in order: a query or close() made after a
// lane push waits until that push is in Redis, and a push made while a push or query on the loop
// is unanswered goes that way too.
const { EventEmitter } = require('events')
const K = require('./kinds')
const { BusmqError, typeError } = require('./errors')

// Lane pushes of one queue in flight beyond which pushes wait and then go the loop's way.
const LANE_OVERLAP = 4

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
    this._maxsize = 0
    this._lanePending = 0 // lane pushes not answered yet
    this._rtPending = 0 // pushes and queries sent to the loop, not answered yet (with a lane)
    this._held = [] // calls waiting for the lane pushes before them
    this._final = false // disconnecting: nothing waits
    this._attachWaits = 0 // attach() calls not answered by `attached` yet
    this._laneAttached = false // attached, and no detach()/close() since: pushes may use the lane
    this._laneDetached = false
    this._qid = bus._register(this, name)
  }

  /**
   * Every call but a push and a query. Only close() depends on the pushes before it (it deletes
   * what they add): it waits for the lane's; the others (detach, consume, stop) do not touch
   * what a push writes, and wait only behind calls already held, to keep their order.
   */
  _cmd (kind, frames) {
    const wait = !this._final && (this._held.length > 0 || (this._lanePending > 0 && kind === K.C_CLOSE))
    if (wait) this._held.push(() => this._send(kind, frames))
    else this._send(kind, frames)
  }

  _send (kind, frames) {
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
    this._maxsize = maxsize
    this._attachWaits++
    this._laneAttached = false
    this._laneDetached = false
    this.bus._active.set(this._qid, this)
    this._cmd(K.C_ATTACH, [String(ttl), String(maxsize), o.discoverable ? '1' : '0'])
  }

  /** Detaches; the queue lives on for its ttl. `detached` follows. */
  detach () {
    this._laneOff()
    this.bus._haltConsumer(this._qid, true)
    this._cmd(K.C_DETACH, [])
  }

  _laneOff () {
    this._laneAttached = false
    this._laneDetached = true
  }

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
    if (this._held.length > 0) this._held.push(() => this._route(payload, cb, true))
    else this._route(payload, cb, false)
    return true
  }

  /**
   * Sends a push that has nothing held before it. The lane takes a push that is nearly alone (at
   * most LANE_OVERLAP - 1 lane pushes of this queue in flight, none on the loop, not part of a
   * burst that waited): it saves the hops between threads,
   * which is what one message at a time pays. Pushes that come while others are in flight go to
   * the loop, whose thread encodes and sends them beside JS (more messages per second).
   */
  _route (payload, cb, burst) {
    const bus = this.bus
    if (!bus._lane) return this._send(K.C_PUSH, [String(bus._callback(cb)), payload])
    // A few lane pushes may overlap: the next message of a one-at-a-time sender often comes
    // before the previous push's answer.
    const alone = this._final || (!burst && this._lanePending < LANE_OVERLAP && this._rtPending === 0)
    if (alone && bus._online && this._laneAttached && bus._handle) {
      const rid = bus._callback((err, id) => this._laneDone(cb, err, id))
      if (bus._handle.pushFast(this._qid, this.name, this._ttl, this._maxsize, rid, payload)) {
        this._lanePending++
        return
      }
      bus._callbacks.delete(rid)
    }
    if (this._lanePending > 0 && !this._final) {
      this._held.push(() => this._route(payload, cb, true))
      return
    }
    this._send(K.C_PUSH, [String(this._tracked(cb)), payload])
  }

  /** A callback id for a call to the loop whose answer a later lane push must wait for. */
  _tracked (cb) {
    this._rtPending++
    return this.bus._callback((err, value) => {
      this._rtPending--
      this._answer(cb, err, value)
    })
  }

  /**
   * The bus disconnects: what waits goes now, on the connections about to finish (held pushes
   * on the lane, behind this queue's lane pushes; other calls to the loop).
   */
  _flushHeld () {
    this._final = true
    try {
      while (this._held.length > 0) this._held.shift()()
    } finally {
      this._final = false
    }
  }

  _laneDone (cb, err, id) {
    this._lanePending--
    // What waited runs first: a throwing callback must not leave it held.
    while (this._held.length > 0 && this._lanePending === 0) this._held.shift()()
    this._answer(cb, err, id)
  }

  /** A push's or query's answer: to its callback, or an error to the queue (as without one). */
  _answer (cb, err, value) {
    if (cb) cb(err, value)
    // A call without a callback that disconnect() cut short was never reported before either.
    else if (err && err.code !== 'ECANCELED') this._emitError(err)
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
    this.bus._haltConsumer(this._qid, false)
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
  stop () {
    this.bus._haltConsumer(this._qid, true)
    this._cmd(K.C_STOP, [])
  }

  /** Detaches and deletes the queue's keys; `closed` follows. */
  close () {
    this._laneOff()
    this.bus._haltConsumer(this._qid, true)
    this._cmd(K.C_CLOSE, [])
  }

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
    if (!this._final && (this._held.length > 0 || this._lanePending > 0)) this._held.push(() => this._queryNow(cb, op, args))
    else this._queryNow(cb, op, args)
  }

  _queryNow (cb, op, args) {
    const rid = this.bus._lane ? this._tracked(cb) : this.bus._callback(cb)
    this._send(K.C_QUERY, [String(rid), op, ...args])
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
        if (this._attachWaits > 0) this._attachWaits--
        // Only the answer to the last attach(), with no detach() or close() since, opens the lane.
        this._laneAttached = this._attachWaits === 0 && !this._laneDetached
        return this._emit('attached', existed)
      }
      case K.E_DETACHING: return this._emit('detaching')
      case K.E_DETACHED:
        this._attached = false
        this._laneAttached = false
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

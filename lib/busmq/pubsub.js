'use strict'
// bus.pubsub(name) of busmq 3.1: PUBLISH/SUBSCRIBE on `bus:pubsub:<name>` (on the first Redis
// url, as busmq does). Events `subscribed`, `unsubscribed`, `message(text)`, `error`.
const { EventEmitter } = require('events')
const K = require('./kinds')
const { typeError } = require('./errors')

class Pubsub extends EventEmitter {
  constructor (bus, name) {
    super()
    if (typeof name !== 'string' || name === '') throw typeError('pubsub name must be a non-empty string')
    this.bus = bus
    this.type = 'pubsub'
    this.name = name
    this.id = 'bus:pubsub:' + name
    this._subscribed = false
    this._pid = bus._registerObject(this)
  }

  /** Subscribes; `subscribed` once Redis confirms, then `message(text)` per publish. */
  subscribe () {
    if (this._subscribed) return
    this._subscribed = true
    this.bus._active.set(this._pid, this) // a listener must not be garbage-collected
    this._send(K.C_SUBSCRIBE, [this.id])
  }

  attach () { this.subscribe() }

  /** Unsubscribes; `unsubscribed` follows. */
  unsubscribe () {
    if (!this._subscribed) return
    this._subscribed = false
    this._send(K.C_UNSUBSCRIBE, [this.id])
  }

  detach () { this.unsubscribe() }

  isSubscribed () { return this._subscribed }

  /** Publishes a string (objects as JSON); `cb(err)` once Redis took it. */
  publish (message, cb) {
    if (cb !== undefined && typeof cb !== 'function') throw typeError('callback must be a function')
    let payload = message
    if (typeof message === 'object' && message !== null && !Buffer.isBuffer(message)) payload = JSON.stringify(message)
    else if (typeof message !== 'string' && !Buffer.isBuffer(message)) payload = String(message)
    const done = cb && ((err) => (err ? cb(err) : cb()))
    this._send(K.C_PUBLISH, [String(this.bus._callback(done)), this.id, payload])
  }

  /** Promise-returning publish (busmq 3.1). */
  promisify () {
    return this.bus.promisify(this, ['publish'])
  }

  _send (kind, frames) {
    const out = this.bus._commands()
    out.begin(kind, frames.length + 1)
    out.str(String(this._pid))
    for (const f of frames) out.frame(f)
  }

  /** A new bus connection: subscribe again if we were. */
  _reopen () {
    if (this._subscribed) this._send(K.C_SUBSCRIBE, [this.id])
  }

  _event (kind, r) {
    switch (kind) {
      case K.E_SUBSCRIBED: return this._emit('subscribed')
      case K.E_UNSUBSCRIBED:
        if (!this._subscribed) this.bus._active.delete(this._pid)
        return this._emit('unsubscribed')
      case K.E_PUBSUB_MESSAGE: return this._emit('message', r.str())
    }
  }

  _emitError (err) {
    if (this.listenerCount('error') > 0) this._emit('error', err)
    else this.bus._emitSafe('error', err)
  }

  _emit (name, ...args) {
    try {
      this.emit(name, ...args)
    } catch (err) {
      this.bus._userError(err)
    }
  }
}

module.exports = { Pubsub }

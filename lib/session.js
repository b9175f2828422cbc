'use strict'
// What the pigato Client and Worker share: one native DEALER session at a time, started and
// stopped as pigato does (stop() first, a new identity per start), and the session events
// (connect, liveness loss, restart) re-emitted the way pigato emits them.
const { randomUUID } = require('crypto')
const K = require('./kinds')
const { NativeEngine } = require('./engine')

class MdpSession extends NativeEngine {
  /** Starts a session; `open(handler, identity)` builds and starts the native handle. */
  _startSession (open) {
    this.stop()
    this.socketId = this.conf.prefix + '-' + randomUUID()
    let handle = null
    handle = open(this._batchHandler((batch) => this._onBatch(handle, batch)), this.socketId)
    this._handle = handle
    this._hold()
    this.emit('start')
  }

  stop () {
    const handle = this._handle
    if (!handle) return
    this._flush()
    this._handle = null
    delete this.socketId
    handle.stop()
    this._release()
    this._sessionEnded('stopped')
    this._lost()
    this.emit('stop')
  }

  /** Handles the records every session shares; false for the caller's own kinds. */
  _sessionEvent (kind, r) {
    switch (kind) {
      case K.E_CONNECT:
        this._emitSafe('connect')
        if (this.conf.onConnect) this._safely(this.conf.onConnect, this)
        return true
      case K.E_DISCONNECT:
        this._sessionEnded(r.str())
        this._lost()
        this._emitSafe('stop')
        return true
      case K.E_STARTED:
        this.socketId = r.str()
        this._emitSafe('start')
        return true
      default:
        return false
    }
  }

  _lost () {
    this._emitSafe('disconnect')
    if (this.conf.onDisconnect) this._safely(this.conf.onDisconnect, this)
  }

  /** Subclasses settle what the ended session held (`reason`: 'stopped', 'liveness', 'broker'). */
  _sessionEnded (reason) {}
}

module.exports = { MdpSession }

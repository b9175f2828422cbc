'use strict'
// What every facade over a native engine handle shares: the keep-alive that holds the Node
// process open while an engine runs, batched command flushing, and safe dispatch of events
// to user handlers (a throwing handler never loses the rest of the batch).
const { EventEmitter } = require('events')
const { BatchWriter } = require('./boundary')

const KEEPALIVE_MS = 1 << 30

class NativeEngine extends EventEmitter {
  constructor () {
    super()
    this._out = new BatchWriter()
    this._flushQueued = false
    this._keepAlive = null
    this._flush = this._flush.bind(this)
  }

  /** Holds the process open while the engine runs (native callbacks are unref'd). */
  _hold () {
    if (!this._keepAlive) this._keepAlive = setInterval(noop, KEEPALIVE_MS)
  }

  _release () {
    if (this._keepAlive) {
      clearInterval(this._keepAlive)
      this._keepAlive = null
    }
  }

  /** A BatchWriter to append commands to; they go over in one native call this tick. */
  _commands () {
    if (!this._flushQueued) {
      this._flushQueued = true
      process.nextTick(this._flush)
    }
    return this._out
  }

  _flush () {
    this._flushQueued = false
    if (this._out.empty || !this._handle) {
      this._out.take()
      return
    }
    this._handle.send(this._out.take())
  }

  /** Calls a user handler; an exception becomes an 'error' event, or is rethrown on the next tick. */
  _safely (fn, self, a, b, c) {
    try {
      fn.call(self, a, b, c)
    } catch (err) {
      this._userError(err)
    }
  }

  _userError (err) {
    if (this.listenerCount('error') > 0) {
      try { this.emit('error', err) } catch (again) { process.nextTick(rethrow, again) }
    } else {
      process.nextTick(rethrow, err)
    }
  }

  /** emit() that never throws into native code. */
  _emitSafe (name, a, b, c) {
    try {
      this.emit(name, a, b, c)
    } catch (err) {
      if (name === 'error') process.nextTick(rethrow, err)
      else this._userError(err)
    }
  }
}

function noop () {}
function rethrow (err) { throw err }

module.exports = { NativeEngine }

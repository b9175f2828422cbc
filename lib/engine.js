'use strict'
// What every facade over a native engine handle shares: the keep-alive that holds the Node
// process open while an engine runs, batched command flushing, and safe dispatch of events
// to user handlers (a throwing handler never loses the rest of the batch, and its error goes
// where EventEmitter's would: an 'error' listener, else an uncaught exception).
const { EventEmitter } = require('events')
const { BatchWriter } = require('./boundary')

const KEEPALIVE_MS = 1 << 30

// Handler errors that no 'error' listener took during the native delivery now running, or null
// outside one. The delivery returns them to native code, which raises each through Node's
// uncaught-exception path once the callback scope has closed (so the rest of the batch, the
// nextTick queue and promise jobs all run first). See src/binding/events.rs.
let uncaught = null

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
    if (!this._keepAlive) {
      this._keepAlive = setInterval(noop, KEEPALIVE_MS)
      if (this._unrefed) this._keepAlive.unref()
    }
  }

  /** As net.Socket's: an unref'd object does not keep the process alive by itself. */
  unref () {
    this._unrefed = true
    if (this._keepAlive) this._keepAlive.unref()
    return this
  }

  /** Undoes unref(). */
  ref () {
    this._unrefed = false
    if (this._keepAlive) this._keepAlive.ref()
    return this
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

  /**
   * Wraps a batch handler for native code: dispatch, flush our commands, and return the
   * handler errors nobody listened for. Native code calls it inside a callback scope, so
   * Node runs nextTick and promise jobs as soon as it returns.
   */
  _batchHandler (dispatch) {
    return (batch) => {
      const outer = uncaught
      const errors = uncaught = []
      try {
        dispatch(batch)
      } catch (err) {
        errors.push(err)
      } finally {
        uncaught = outer
      }
      if (this._flushQueued) this._flush()
      return errors.length > 0 ? errors : undefined
    }
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
      try { this.emit('error', err) } catch (again) { raise(again) }
    } else {
      raise(err)
    }
  }

  /** emit() that never throws into native code. */
  _emitSafe (name, a, b, c) {
    try {
      this.emit(name, a, b, c)
    } catch (err) {
      if (name === 'error') raise(err)
      else this._userError(err)
    }
  }
}

function noop () {}
function rethrow (err) { throw err }

/** An uncaught exception: returned to native code during a delivery, else thrown on the next tick. */
function raise (err) {
  if (uncaught) uncaught.push(err)
  else process.nextTick(rethrow, err)
}

module.exports = { NativeEngine }

'use strict'
// What every facade over a native engine handle shares: the keep-alive that holds the Node
// process open while an engine runs, batched command flushing, and safe dispatch of events
// to user handlers (a throwing handler never loses the rest of the batch).
const { EventEmitter } = require('events')
const { BatchWriter } = require('./boundary')

const KEEPALIVE_MS = 1 << 30

// Node drains neither process.nextTick nor promise jobs after a threadsafe-function callback
// (measured: they waited 0.05-3 ms for an unrelated event). Every batch from native code ends
// with a drain, so replies queued by handlers and `await` continuations run at once, as they
// do after Node's own I/O callbacks.
const drainTicks = typeof process._tickCallback === 'function' ? process._tickCallback : () => {}

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

  /** Wraps a batch handler: dispatch, then flush our commands and drain ticks/microtasks. */
  _batchHandler (dispatch) {
    return (batch) => {
      dispatch(batch)
      try {
        drainTicks()
      } catch (err) {
        process.nextTick(rethrow, err)
      }
      if (this._flushQueued) this._flush()
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

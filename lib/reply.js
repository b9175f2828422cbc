'use strict'
// The reply handed to a Worker's 'request' handlers (pigato's "extended writable stream"): write() =
// partial, end() = final. It is a Writable (instanceof, pipe, events) whose stream machinery is built
// only when a handler uses it (issue 20): most handlers call reply.end(data) once, which sends the final
// reply directly, as the stream would have, without a WritableState, an EventEmitter or the ticks a
// stream's end takes. Any other Writable or EventEmitter member (write, on, pipe into it, destroy,
// writable, _writableState...) builds the stream first, and a reply already ended that way is brought
// to the state a stream ended then would be in.
const { Writable } = require('stream')

const PARTIAL = '6'
const FINAL = '3'
const REJECT = '7'
const LIVENESS = 3

// Which tick a fast end() happened in: a stream ended in this tick still has its 'prefinish',
// 'finish' and 'close' to emit; one ended in an earlier tick has emitted them. Bumped once per tick
// that had fast ends (not once per reply).
let epoch = 0
let bumpQueued = false
function bump () {
  epoch++
  bumpQueued = false
}

const UNBUILT = 0
const BUILDING = 1
const BUILT = 2

/** A reply to `req`, answered through `worker._reply`. */
function Reply (worker, req) {
  this._worker = worker
  this._req = req
  this._endNull = false
  this._stream = UNBUILT
  // The epoch of an end() that went out before the stream was built (-1: none).
  this._fastEnd = -1
  this._replaying = false
  this.ended = false
  this.opts = {}
}
Object.setPrototypeOf(Reply.prototype, Writable.prototype)
Object.setPrototypeOf(Reply, Writable)

Reply.prototype._write = function (chunk, encoding, cb) {
  // Replaying an end() whose final reply already went out: nothing to send.
  if (!this._replaying) {
    const type = this.ended ? FINAL : PARTIAL
    this._worker._reply(type, this._req, '0', this._endNull ? null : chunk, this.opts)
  }
  cb(null)
}

Reply.prototype.end = function (chunk, encoding, cb) {
  if (this._stream === UNBUILT && this._fastEnd === -1 && typeof chunk !== 'function' &&
      encoding === undefined && cb === undefined) {
    // What the stream's end(chunk) does synchronously: one final reply; the events are the built
    // stream's business (see _build).
    this.ended = true
    if (chunk === undefined || chunk === null) this._endNull = true
    this._fastEnd = epoch
    if (!bumpQueued) {
      bumpQueued = true
      process.nextTick(bump)
    }
    this._worker._reply(FINAL, this._req, '0', this._endNull ? null : chunk, this.opts)
    this._done()
    return this
  }
  this._build()
  if (typeof chunk === 'function') { cb = chunk; chunk = undefined }
  this.ended = true
  if (chunk === undefined || chunk === null) {
    chunk = ''
    this._endNull = true
  }
  const ret = Writable.prototype.end.call(this, chunk, encoding, cb)
  this._done()
  return ret
}

/** Hands the request back to the broker for another worker. */
Reply.prototype.reject = function (err) {
  this._worker._reply(REJECT, this._req, '0', err, undefined)
  this._done()
}

/** Ends the request with an error (status -1). */
Reply.prototype.error = function (err) {
  this._worker._reply(FINAL, this._req, '-1', err, undefined)
  this._done()
}

Reply.prototype.heartbeat = function () {
  this._worker.heartbeat()
}

/** Still tracked, not ended, and the client's request heartbeats are alive. */
Reply.prototype.active = function () {
  const w = this._worker
  return w.reqs.get(this._req.slot) === this._req && !this._req.ended &&
    Date.now() - this._req.beat < LIVENESS * w.conf.heartbeat
}

Reply.prototype._done = function () {
  this._req.ended = true
  if (this._worker.reqs.get(this._req.slot) === this._req) this._worker.reqs.delete(this._req.slot)
}

/** Builds the Writable now; a fast end() is replayed into it without sending again. */
Reply.prototype._build = function () {
  if (this._stream !== UNBUILT) return
  this._stream = BUILDING
  Writable.call(this, { objectMode: true })
  this._stream = BUILT
  if (this._fastEnd === -1) return
  if (this._fastEnd === epoch) {
    // Ended in this tick: the stream ends now and emits what it would have, in the ticks to come.
    this._replaying = true
    Writable.prototype.end.call(this, '')
    this._replaying = false
  } else {
    // Ended in an earlier tick: finished, destroyed and closed, its events long emitted.
    Object.assign(this._writableState, {
      ending: true, ended: true, finalCalled: true, prefinished: true, finished: true,
      destroyed: true, closed: true, closeEmitted: true
    })
  }
}

// Every member Reply inherits from Writable, Stream and EventEmitter, except those defined above,
// builds the stream before it acts. Instance fields the stream would set (_writableState, _events...)
// are read through the prototype until then, so they build it too; the stream's constructor assigns
// them as the instance's own properties, and from then on the prototype is not asked.
function wrapInherited () {
  const seen = new Set(Reflect.ownKeys(Reply.prototype))
  const fields = ['_writableState']
  seen.add('_writableState')
  for (let proto = Writable.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Reflect.ownKeys(proto)) {
      if (seen.has(key)) continue
      seen.add(key)
      const d = Object.getOwnPropertyDescriptor(proto, key)
      if (typeof d.value === 'function') {
        const fn = d.value
        Object.defineProperty(Reply.prototype, key, {
          configurable: true,
          writable: true,
          value: function (...args) {
            if (this._stream === UNBUILT) this._build()
            return fn.apply(this, args)
          }
        })
      } else if (d.get || d.set) {
        Object.defineProperty(Reply.prototype, key, {
          configurable: true,
          get: d.get && function () {
            if (this._stream === UNBUILT) this._build()
            return d.get.call(this)
          },
          set: d.set && function (v) {
            if (this._stream === UNBUILT) this._build()
            d.set.call(this, v)
          }
        })
      } else {
        fields.push(key)
      }
    }
  }
  for (const key of fields) {
    // The value the prototype chain holds (EventEmitter's `_eventsCount = 0`...), for the prototype
    // itself and for a field the stream's constructor leaves alone.
    const inherited = Reflect.get(Writable.prototype, key)
    Object.defineProperty(Reply.prototype, key, {
      configurable: true,
      get () {
        // A built reply gets here only for a field its constructor did not set.
        if (this._stream !== UNBUILT) return inherited
        this._build()
        return Object.prototype.hasOwnProperty.call(this, key) ? this[key] : inherited
      },
      set (v) {
        Object.defineProperty(this, key, { configurable: true, enumerable: true, writable: true, value: v })
      }
    })
  }
}
wrapInherited()

module.exports = { Reply }

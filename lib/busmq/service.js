'use strict'
// bus.service(name) of busmq 3.1: request/reply over queues. A server consumes queue
// `service:<name>`; a client consumes its own reply queue `service:<name>:replyTo:<16 hex>`.
// Requests are JSON `{ data, replyTo, reqId, expires }`, replies `{ err, reply, reqId, partial }`
// (the same records busmq's processes read and write, so either side may be busmq's).
const { EventEmitter } = require('events')
const crypto = require('crypto')
const { PassThrough } = require('stream')
const { BusmqError, typeError } = require('./errors')

/** How long a server keeps a requester's reply queue attached after its last request. */
const REQUESTER_IDLE_MS = 60 * 60 * 1000

class Service extends EventEmitter {
  constructor (bus, name) {
    super()
    if (typeof name !== 'string' || name === '') throw typeError('service name must be a non-empty string')
    this.bus = bus
    this.name = name
    this.type = 'service'
    this.id = 'service:' + name
    this.replyTo = this.id + ':replyTo:' + crypto.randomBytes(8).toString('hex')
    this.options = { reqTimeout: 1000 }
    this._requests = null // the request queue, while attached
    this._replies = null // our reply queue (clients), while attached
    this._pending = new Map() // reqId -> { cb, timer, options, stream }
    this._requesters = new Map() // replyTo -> { q, timer } (servers)
    this._inflight = 0
    this._grace = null
    this._reqSeq = 0
  }

  /** Serves requests: `request(data, reply)` events; `cb` once consuming. */
  serve (options, cb) {
    if (typeof options === 'function') [cb, options] = [options, undefined]
    if (!this._idle()) return
    const o = Object.assign({}, options)
    this._serveMax = o.max
    this._open(o, () => {
      if (cb) this.once('serving', () => cb())
      this._requests.consume({ max: -1 })
    })
  }

  /** Connects as a client (consuming our reply queue); `cb` once ready for requests. */
  connect (options, cb) {
    if (typeof options === 'function') [cb, options] = [options, undefined]
    if (!this._idle()) return
    this._replies = this._queue(this.replyTo, (msg) => this._reply(msg), 'connected')
    this._open(Object.assign({}, options), () => {
      if (cb) this.once('connected', () => cb())
      this._replies.consume({ max: -1 })
    })
  }

  /**
   * Sends a request; with `cb(err, reply, partial)` a reply is expected within `reqTimeout` ms
   * (`err` is 'timeout' after that). `options.streamReply` hands `cb` a readable stream instead.
   */
  request (message, options, cb) {
    if (!this.isConnected()) return false
    if (typeof options === 'function') [cb, options] = [options, {}]
    const o = Object.assign({}, options)
    o.reqTimeout = o.reqTimeout || this.options.reqTimeout
    if (o.streamReply) o.allowPartial = true
    const reqId = Date.now() + ':' + process.pid + ':' + (++this._reqSeq)
    let replyTo
    if (typeof cb === 'function') {
      replyTo = this.replyTo
      this._inflight++
      const entry = { cb, options: o, stream: null, timer: null }
      this._pending.set(reqId, entry)
      this._arm(reqId, entry)
    }
    return this._requests.push({ data: message, replyTo, reqId, expires: Date.now() + o.reqTimeout })
  }

  /** Stops taking requests, and detaches once replies in flight are done (or after `gracePeriod` ms). */
  disconnect (gracePeriod) {
    if (this._requests === null && this._replies === null) return
    if (this._requests && this._requests.isConsuming()) this._requests.stop()
    this._grace = setTimeout(() => this._shutdown(true), Math.max(Number(gracePeriod) || 0, 0))
    this._shutdown(false)
  }

  isServing () { return Boolean(this._requests && this._requests.isConsuming()) }
  isConnected () { return this._replies !== null }

  /** Promise-returning serve/connect/request (busmq 3.1). */
  promisify () { return this.bus.promisify(this, ['serve', 'connect', 'request']) }

  _idle () {
    if (this.isServing()) { this._error(new BusmqError('EALREADY', 'already serving')); return false }
    if (this.isConnected()) { this._error(new BusmqError('EALREADY', 'already connected')); return false }
    return true
  }

  _open (options, ready) {
    this.options = Object.assign({ reqTimeout: 1000 }, options)
    this._requests = this._queue(this.id, (msg) => this._request(msg), 'serving')
    let waiting = this._replies ? 2 : 1
    const onAttached = () => { if (--waiting === 0) ready() }
    this._requests.once('attached', onAttached)
    if (this._replies) {
      this._replies.once('attached', onAttached)
      this._replies.attach(this.options)
    }
    this._requests.attach(this.options)
  }

  /** A queue whose messages go to `onMessage`, and whose consuming(true) emits `onConsuming`. */
  _queue (name, onMessage, onConsuming) {
    const q = this.bus.queue(name)
    q.on('error', (err) => this._error(err))
    q.on('message', onMessage)
    q.on('consuming', (on) => { if (on) this._emit(onConsuming) })
    q.once('detached', () => {
      if (q === this._requests) this._requests = null
      if (q === this._replies) this._replies = null
      if (this._requests === null && this._replies === null) this._emit('disconnect')
    })
    return q
  }

  _arm (reqId, entry) {
    clearTimeout(entry.timer)
    entry.timer = setTimeout(() => this._settle({ reqId }, timeoutError()), entry.options.reqTimeout)
    entry.timer.unref()
  }

  _request (text) {
    let request
    try {
      request = JSON.parse(text)
    } catch {
      return // not a request of ours or busmq's
    }
    if (request === null || typeof request !== 'object' || Date.now() > request.expires) return
    if (this._serveMax > 0 && --this._serveMax === 0) this._requests.stop()
    this._inflight++
    let finished = false
    const done = () => {
      if (finished) return
      finished = true
      this._inflight--
      this._shutdown(false)
    }
    if (!request.replyTo) return this._emit('request', request.data, done)
    const requester = this._requester(request.replyTo)
    const send = (record) => requester.q.push(record)
    const reply = (err, value, partial) => {
      if (finished) return
      send({ err: plainError(err), reply: value, reqId: request.reqId, partial })
      if (!partial) done()
    }
    reply.replyTo = request.replyTo
    reply.createWriteStream = () => {
      const st = new PassThrough({ objectMode: true })
      st.on('data', (data) => send({ err: null, reply: data, reqId: request.reqId, partial: true }))
      st.on('end', () => { send({ err: null, reqId: request.reqId }); done() })
      return st
    }
    this._emit('request', request.data, reply)
  }

  /** The reply queue of a requester, attached on its first request and kept while it is active. */
  _requester (replyTo) {
    let r = this._requesters.get(replyTo)
    if (!r) {
      const q = this.bus.queue(replyTo)
      q.on('error', (err) => this._error(err))
      q.attach()
      r = { q, timer: null }
      this._requesters.set(replyTo, r)
    }
    clearTimeout(r.timer)
    r.timer = setTimeout(() => {
      r.q.detach()
      this._requesters.delete(replyTo)
    }, REQUESTER_IDLE_MS)
    r.timer.unref()
    return r
  }

  _reply (text) {
    let reply
    try {
      reply = JSON.parse(text)
    } catch {
      return // not a reply of ours or busmq's
    }
    if (reply !== null && typeof reply === 'object') this._settle(reply, reply.err)
  }

  /** A reply (or our own timeout) for a pending request. */
  _settle (reply, err) {
    const entry = this._pending.get(reply.reqId)
    if (!entry) return
    clearTimeout(entry.timer)
    if (entry.options.streamReply) {
      if (!entry.stream) {
        entry.stream = new PassThrough({ objectMode: true })
        this._call(entry.cb, err, entry.stream)
      }
      if (reply.reply !== undefined && reply.reply !== null) entry.stream.write(reply.reply)
      if (!reply.partial) entry.stream.end()
    } else {
      this._call(entry.cb, err, reply.reply, reply.partial || false)
    }
    if (!entry.options.allowPartial || !reply.partial) {
      this._pending.delete(reply.reqId)
      this._inflight--
      this._shutdown(false)
    } else {
      this._arm(reply.reqId, entry)
    }
  }

  _shutdown (force) {
    if (this._grace === null || (!force && this._inflight > 0)) return
    clearTimeout(this._grace)
    this._grace = null
    if (this._requests) this._requests.detach()
    if (this._replies) this._replies.detach()
    for (const r of this._requesters.values()) {
      clearTimeout(r.timer)
      r.q.detach()
    }
    this._requesters.clear()
    for (const entry of this._pending.values()) clearTimeout(entry.timer)
    this._pending.clear()
    this._inflight = 0
  }

  _call (cb, ...args) {
    try {
      cb(...args)
    } catch (err) {
      this.bus._userError(err)
    }
  }

  _emit (name, ...args) {
    try {
      this.emit(name, ...args)
    } catch (err) {
      this.bus._userError(err)
    }
  }

  _error (err) {
    if (this.listenerCount('error') > 0) this._emit('error', err)
    else this.bus._emitSafe('error', err)
  }
}

/** An Error as busmq sends it: its own properties plus message and stack, as a plain object. */
function plainError (err) {
  if (!(err instanceof Error)) return err === undefined ? null : err
  return Object.assign({ message: err.message, stack: err.stack }, err)
}

function timeoutError () {
  return new BusmqError('ETIMEDOUT', 'timeout')
}

module.exports = { Service }

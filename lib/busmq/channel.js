'use strict'
// The Channel of the busmq API: two queues, `channel:<local>:<name>` consumed and
// `channel:<remote>:<name>` produced, with busmq 3.1's framing (`:1:` peer connected,
// `:2:<text>` message, `:3:` peer disconnected, `:4:` end). Events go out under busmq 3.1's
// names and the seed README's (`connect` + `connected`, `remote:connect` + `remote:connected`).
const { EventEmitter } = require('events')
const { BusmqError, typeError } = require('./errors')

const ALIASES = {
  connect: 'connected',
  'remote:connect': 'remote:connected',
  disconnect: 'disconnected',
  'remote:disconnect': 'remote:disconnected'
}

class Channel extends EventEmitter {
  constructor (bus, name, local, remote) {
    super()
    if (typeof name !== 'string' || name === '') throw typeError('channel name must be a non-empty string')
    for (const role of [local, remote]) {
      if (role !== undefined && (typeof role !== 'string' || role === '')) throw typeError('channel roles must be non-empty strings')
    }
    this.bus = bus
    this.name = name
    this.id = 'bus:channel:' + name
    this.local = local || 'local'
    this.remote = remote || 'remote'
    this._consumer = null
    this._producer = null
    this._remoteConnected = false
  }

  /** Attaches both queues; `connect` when both are attached. */
  connect (options) {
    if (this.isAttached()) {
      this._error(new BusmqError('EALREADY', 'cannot connect: channel is already bound'))
      return
    }
    const opts = Object.assign({}, options)
    this._reliable = Boolean(opts.reliable)
    const consumer = this.bus.queue(`channel:${this.local}:${this.name}`)
    const producer = this.bus.queue(`channel:${this.remote}:${this.name}`)
    this._consumer = consumer
    this._producer = producer
    let attached = 0
    let detached = 0
    const onAttached = () => { if (++attached === 2) this._emit('connect') }
    const onDetached = () => { if (++detached === 2) this._emit('disconnect') }
    for (const q of [consumer, producer]) {
      q.on('error', (err) => { if (this._consumer === consumer) this._error(err) })
      q.once('detached', () => {
        if (this._consumer === consumer) {
          this._consumer = null
          this._producer = null
        }
        onDetached()
      })
    }
    consumer.once('attached', () => {
      onAttached()
      consumer.consume(opts)
    })
    consumer.on('message', (msg, id) => this._frame(msg, id))
    producer.once('attached', () => {
      onAttached()
      producer.push(':1:')
    })
    consumer.attach(opts)
    producer.attach(opts)
  }

  attach (options) { this.connect(options) }

  /** Connects with the roles swapped (the other end of a default channel). */
  listen (options) {
    const remote = this.remote
    this.remote = this.local
    this.local = remote
    this.connect(options)
  }

  /** Sends `message` to the peer (`:2:` + message); a no-op before connect(). */
  send (message, cb) {
    if (!this.isAttached()) return
    this._producer.push(':2:' + message, cb)
  }

  /** Sends to role `endpoint` without connecting: attach, push, detach. */
  sendTo (endpoint, message, cb) {
    const q = this.bus.queue(`channel:${endpoint}:${this.name}`)
    q.once('error', (err) => {
      q.detach()
      if (cb) cb(err)
      cb = null
    })
    q.once('attached', () => {
      q.push(':2:' + message, cb)
      q.detach()
    })
    q.attach()
  }

  /** Tells the peer (`:3:`) and detaches both queues; the channel stays for another peer. */
  disconnect () {
    if (!this.isAttached()) return
    this._producer.push(':3:')
    this._detachQueues()
  }

  detach () { this.disconnect() }

  /** Ends the channel for both peers (`:4:`). */
  end () {
    if (!this.isAttached()) return
    this._producer.push(':4:')
    this._detachQueues()
  }

  isAttached () { return Boolean(this._producer && this._consumer) }
  isBound () { return this.isAttached() }

  /** Acknowledges messages up to `id` on the consumed queue (reliable mode). */
  ack (id, cb) {
    if (!this.isAttached()) return
    this._consumer.ack(id, cb)
  }

  /** Promise-returning send/sendTo/ack (busmq 3.1). */
  promisify () {
    return this.bus.promisify(this, ['send', 'sendTo', 'ack'])
  }

  _detachQueues () {
    if (this._consumer) this._consumer.detach()
    if (this._producer) this._producer.detach()
  }

  _frame (msg, id) {
    if (msg.length < 3 || msg[0] !== ':' || msg[2] !== ':') {
      this._error(new BusmqError('EPROTO', 'received unrecognized message type'))
      return
    }
    const body = msg.slice(3)
    switch (msg[1]) {
      case '1':
        if (this._reliable) this.ack(id)
        if (!this._remoteConnected) {
          this._remoteConnected = true
          this._emit('remote:connect')
        }
        break
      case '2':
        this._emit('message', body, id)
        break
      case '3':
        // A new peer must learn that we are here, whatever else we sent before.
        if (this._producer) this._producer.push(':1:')
        if (this._reliable) this.ack(id)
        if (this._remoteConnected) {
          this._remoteConnected = false
          this._emit('remote:disconnect')
        }
        break
      case '4':
        if (this._reliable) this.ack(id)
        this._detachQueues()
        this._emit('end')
        break
      default:
        this._error(new BusmqError('EPROTO', 'received unrecognized message type'))
    }
  }

  _emit (name, ...args) {
    for (const n of ALIASES[name] ? [name, ALIASES[name]] : [name]) {
      try {
        this.emit(n, ...args)
      } catch (err) {
        this.bus._userError(err)
      }
    }
  }

  _error (err) {
    if (this.listenerCount('error') > 0) this._emit('error', err)
    else this.bus._emitSafe('error', err)
  }
}

module.exports = { Channel }

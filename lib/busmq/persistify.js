'use strict'
// bus.persistify(name, object, attributes) of busmq 3.1: `object` keeps `attributes` in the Redis
// hash `bus:persisted:<name>`, one JSON value per field. Changed attributes are dirty until
// `save()`; `load()` reads them back; `persist(ttl)` keeps the hash alive (EXPIRE every ttl/3 s).
// Every write carries an expiry (60 s unless persist() set another).
const { typeError } = require('./errors')

const METHODS = {
  persistId () { return this._p.id },

  /** Keeps the hash alive: EXPIRE to `ttl` seconds every ttl/3 s, until unpersist(). */
  persist (ttl) {
    if (this._p.timer) return
    if (!Number.isInteger(ttl) || ttl < 1) throw typeError('persist ttl must be a positive integer (seconds)')
    this._p.ttl = ttl
    this._p.timer = setInterval(() => this.ptouch(), (ttl * 1000) / 3)
    this._p.timer.unref()
  },

  /** Stops the keep-alive and forgets the loaded and dirty values. */
  unpersist () {
    if (this._p.timer) clearInterval(this._p.timer)
    this._p.timer = null
    this._p.dirty = {}
    this._p.saved = {}
  },

  ptouch (cb) {
    this._p.bus._keyCall(cb, this._p.id, 'expire', String(this._p.ttl))
  },

  /** Reads the hash: `cb(err, exists, key)`; values are JSON-parsed into the attributes. */
  load (cb) {
    this.pread(this._p.id, (err, fields, key) => {
      if (err) return cb && cb(err)
      if (fields) {
        for (const [k, v] of Object.entries(fields)) {
          try {
            this._p.saved[k] = JSON.parse(v)
          } catch {
            this._p.saved[k] = v // written by something that is not busmq: keep the text
          }
        }
      }
      if (cb) cb(null, fields !== null, key)
    })
  },

  pread (key, cb) {
    this._p.bus._keyCall((err, fields) => cb && cb(err, err ? undefined : fields, key), key, 'hgetall')
  },

  /** Writes the dirty attributes: `cb(err, key)`. */
  save (cb) {
    const dirty = Object.assign({}, this._p.dirty)
    if (Object.keys(dirty).length === 0) return cb && cb()
    this.pwrite(this._p.id, dirty, (err, _resp, key) => {
      if (err) return cb && cb(err)
      for (const [k, v] of Object.entries(dirty)) {
        this._p.saved[k] = v
        if (this._p.dirty[k] === v) delete this._p.dirty[k]
      }
      if (cb) cb(null, key)
    })
  },

  pwrite (key, dirty, cb) {
    const args = []
    for (const [k, v] of Object.entries(dirty)) args.push(k, JSON.stringify(v))
    this._p.bus._keyCall((err) => cb && cb(err, err ? undefined : 'OK', key), key, 'hset', String(this._p.ttl), ...args)
  },

  stringify () { return JSON.stringify(this._p.saved) }
}

function persistify (bus, name, object, attributes) {
  if (typeof name !== 'string' || name === '') throw typeError('persistify name must be a non-empty string')
  if (object === null || typeof object !== 'object') throw typeError('persistify needs an object')
  if (!Array.isArray(attributes)) throw typeError('persistify attributes must be an array of names')
  if (object._p) return object
  const id = 'bus:persisted:' + name
  Object.defineProperty(object, '_p', {
    value: { bus, name, id, ttl: 60, dirty: {}, saved: {}, timer: null },
    enumerable: false
  })
  if (!object.id) object.id = id
  for (const attr of attributes) {
    Object.defineProperty(object, attr, {
      enumerable: true,
      configurable: true,
      set (value) { this._p.dirty[attr] = value },
      get () { return Object.hasOwn(this._p.dirty, attr) ? this._p.dirty[attr] : this._p.saved[attr] }
    })
  }
  for (const [k, fn] of Object.entries(METHODS)) object[k] = fn
  object.federatedMethods = ['pread', 'pwrite', 'ptouch']
  return object
}

module.exports = { persistify }

'use strict'
// The $dir core service: a Worker for '$dir' that follows the broker's PUB notices on
// `intch` and answers which workers serve a service (or the whole map).
const { socket } = require('./socket')
const check = require('./validate')
const Worker = require('./worker')

class Directory {
  constructor (endpoint, conf) {
    check.endpoint(endpoint, 'endpoint')
    this.endpoint = endpoint
    this.conf = Object.assign({}, check.conf(conf))
    check.endpoint(this.conf.intch, 'conf.intch')
    this.service = '$dir'
    this._dir = {}
  }

  start () {
    this.wrk = new Worker(this.endpoint, this.service)
    this.wrk.on('request', (inp, rep) => {
      rep.end(inp ? (this._dir[inp] || []) : this._dir)
    })
    this.wrk.start()
    this.sub = socket('sub')
    this.sub.on('message', (frame) => {
      const text = frame.toString()
      if (text.indexOf(this.service) !== 0) return
      try { this._dir = JSON.parse(text.slice(5)) } catch (e) {}
    })
    this.sub.on('error', () => {})
    this.sub.connect(this.conf.intch)
    this.sub.subscribe(this.service)
    if (this.conf.onStart) this.conf.onStart()
    // Ask the broker for a fresh notice now that we listen.
    this.wrk.heartbeat({ update: 1 })
  }

  stop () {
    if (this.wrk) {
      this.wrk.stop()
      delete this.wrk
    }
    if (this.sub) {
      this.sub.close()
      delete this.sub
    }
    if (this.conf.onStop) this.conf.onStop()
  }
}

module.exports = Directory

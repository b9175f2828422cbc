'use strict'
// The $dir core service: a Worker for '$dir' that follows the broker's PUB notices on
// `intch` and answers which workers serve a service (or the whole map).
const native = require('./native')
const check = require('./validate')
const Worker = require('./worker')
const { BatchReader } = require('./boundary')

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
    this.sub = new native.SubscriberHandle((batch) => {
      const r = new BatchReader(batch)
      for (let kind = r.next(); kind !== -1; kind = r.next()) {
        if (r.remaining < 1) continue
        const text = r.str()
        if (text.indexOf(this.service) !== 0) continue
        try { this._dir = JSON.parse(text.slice(5)) } catch (e) {}
      }
    })
    this.sub.connect(this.conf.intch, this.service)
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

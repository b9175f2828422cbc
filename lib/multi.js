'use strict'
// Multi-broker (pigato's "infinite Brokers", issue 14): `new Worker([a, b], service)` registers with every
// broker of the list; `new Client([a, b])` spreads its requests over the brokers it is connected to and,
// the moment one connection closes, re-sends that broker's unanswered `retry` requests through another.
// Each broker gets a member: an ordinary Worker or Client with its own native session. A moved request
// starts over on its new broker (its partial replies come again); a late answer through the old broker
// is dropped (its member no longer knows the request), so every request ends exactly once.
const { EventEmitter } = require('events')
const check = require('./validate')

function checkBrokers (brokers) {
  if (brokers.length === 0) throw check.typeError('The "broker" list must name at least one broker')
  for (const b of brokers) check.endpoint(b, 'broker')
}

/** Re-emits a member's events on the group; errors only when the group has listeners (as one member would). */
function relay (group, member, names) {
  for (const name of names) member.on(name, (...args) => group.emit(name, ...args))
  member.on('error', (err) => {
    if (group.listenerCount('error') > 0) group.emit('error', err)
    else if (err instanceof Error) throw err // a handler's exception: the member raises it as uncaught
  })
}

class MultiWorker extends EventEmitter {
  constructor (Worker, brokers, service, conf) {
    super()
    checkBrokers(brokers)
    this.brokers = brokers.slice()
    this.service = service
    this.members = brokers.map((b) => new Worker(b, service, Object.assign({}, conf)))
    for (const m of this.members) {
      relay(this, m, ['connect', 'disconnect', 'start', 'stop'])
      m.on('request', (...args) => this.emit('request', ...args))
    }
    const first = this.members[0]
    this.conf = Object.assign({}, first.conf)
    // `worker.conf.concurrency = n` reaches every broker.
    Object.defineProperty(this.conf, 'concurrency', {
      enumerable: true,
      configurable: true,
      get: () => first.conf.concurrency,
      set: (n) => { for (const m of this.members) m.conf.concurrency = n }
    })
  }

  start () { for (const m of this.members) m.start() }
  stop () { for (const m of this.members) m.stop() }
  heartbeat (opts) { for (const m of this.members) m.heartbeat(opts) }
}

class MultiClient extends EventEmitter {
  constructor (Client, brokers, conf) {
    super()
    checkBrokers(brokers)
    this.brokers = brokers.slice()
    this.members = brokers.map((b) => new Client(b, Object.assign({}, conf)))
    this.conf = this.members[0].conf
    this._next = 0
    for (const m of this.members) {
      m._up = false
      m._onLink = (up) => this._link(m, up)
      relay(this, m, ['connect', 'disconnect', 'start', 'stop'])
    }
  }

  start () { for (const m of this.members) m.start() }
  stop () { for (const m of this.members) m.stop() }

  /** Requests unanswered over every broker (each member refuses beyond its own `conf.maxPending`). */
  get pending () {
    return this.members.reduce((n, m) => n + m.reqs.size, 0)
  }

  /**
   * Heartbeats every broker, or the worker serving a request: an id (a number) names a request of
   * each member that holds one by that id (ids are per member), a wire rid (a string) goes to every member.
   */
  heartbeat (rid) {
    if (rid === undefined || rid === null || rid === '') {
      for (const m of this.members) m.heartbeat()
      return
    }
    for (const m of this.members) {
      if (typeof rid !== 'number' || m.reqs.has(rid)) m.heartbeat(rid)
    }
  }

  /** A member with a live connection, round robin; any member when none is up (its DEALER queues). */
  _pick (except) {
    const n = this.members.length
    for (let i = 0; i < n; i++) {
      const m = this.members[(this._next + i) % n]
      if (m._up && m !== except) {
        this._next = (this._next + i + 1) % n
        return m
      }
    }
    if (except) return null
    const m = this.members[this._next]
    this._next = (this._next + 1) % n
    return m
  }

  _send (service, data, opts, req) {
    const m = this._pick(null)
    req.member = m
    m._send(service, data, opts, req)
  }

  /** A member's connection changed: on a close its unanswered retry requests move to a live broker. */
  _link (member, up) {
    member._up = up
    if (!up) {
      for (const req of member.reqs.values()) if (req.resend) req.lost = true
    }
    const target = up ? member : this._pick(member)
    if (!target) return // none live: they go once a broker is back
    for (const m of this.members) {
      if (m === target || !m._up) m._resendLost(target)
    }
  }
}

/** `request`, `requestStream` and `call` are Client's own: they only need `_send` and `heartbeat`. */
function adoptClientApi (Client) {
  for (const name of ['request', 'requestStream', 'call']) MultiClient.prototype[name] = Client.prototype[name]
}

module.exports = { MultiWorker, MultiClient, adoptClientApi }

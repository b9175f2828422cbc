'use strict'
// pigato-compatible Client over the native MDP client (src/mdp, src/binding/client.rs).
// Heartbeats, liveness, reconnects and request timeouts run in Rust; this file keeps the
// user's streams and callbacks and turns reply batches into their events.
const { Readable } = require('stream')
const { randomUUID } = require('crypto')
const native = require('./native')
const K = require('./kinds')
const check = require('./validate')
const { MdpSession } = require('./session')
const { BatchReader } = require('./boundary')
const { securityJson } = require('./security')
const { MultiClient, adoptClientApi } = require('./multi')

// Ids of re-sent requests remembered so that their late answers are dropped quietly.
const MOVED_IDS_MAX = 100000
// maxPending: requests a client holds unanswered before it refuses more (C_PENDING_FULL), so a producer
// that outruns its workers meets a bound instead of growing without one (about 1 kB each, measured).
const DEFAULTS = { autostart: false, reconnect: 1000, heartbeat: 2500, timeout: 60000, retry: 0, maxPending: 100000 }

class Client extends MdpSession {
  constructor (broker, conf) {
    // A list of brokers: one member client per broker (lib/multi.js).
    if (Array.isArray(broker)) return new MultiClient(Client, broker, conf)
    super()
    check.endpoint(broker, 'broker')
    conf = check.conf(conf)
    check.numbers(conf, [['heartbeat', 1], ['reconnect', 0], ['timeout', -1], ['retry', 0]])
    if (conf.maxPending !== Infinity) check.numbers(conf, [['maxPending', 1]])
    check.functions(conf, ['onConnect', 'onDisconnect'])
    if (conf.prefix !== undefined) check.string(conf.prefix, 'conf.prefix')
    this.broker = broker
    this.conf = Object.assign({ prefix: 'C' + randomUUID() }, DEFAULTS, conf)
    // Pending requests by id, a number of this client's own: the native side makes the wire rid from
    // it (a random prefix per session and the id in base 36) and hands replies back by it (issue 20).
    this.reqs = new Map()
    this._ridSeq = 0
    this._plainOpts = null
    this._movedIds = new Set()
    this._security = securityJson(this.conf)
    this._handle = null
    if (this.conf.autostart) this.start()
  }

  start () {
    this._startSession((onEvents, identity) => {
      const handle = new native.ClientHandle(onEvents)
      handle.start(this.broker, this.conf.prefix, identity, this.conf.heartbeat, this.conf.reconnect, this._security)
      return handle
    })
  }

  /** An explicit stop fails what is pending (a restart gets a new identity: no reply could arrive). */
  _sessionEnded (reason) {
    if (reason === 'stopped') this._failAll('C_STOPPED')
  }

  /** request(service, data, opts) -> Readable, or request(service, data, partialCb, finalCb, opts). */
  request (service, data, a, b, c) {
    if (arguments.length >= 4) {
      this._send(service, data, c, new Req(a, b, null))
      return undefined
    }
    const stream = new Readable({ objectMode: true, read: noop })
    const req = new Req(null, null, stream)
    this._send(service, data, a, req)
    // Its id changes when it is re-sent after a lost connection; ids are per member client (multi-broker).
    stream.heartbeat = () => (req.member || this).heartbeat(req.rid)
    return stream
  }

  requestStream (service, data, opts) {
    return this.request(service, data, opts)
  }

  /** Promise of the final reply; partial replies go to `onPartial(data)` when given. */
  call (service, data, opts, onPartial) {
    // The promise's own resolving functions are the request's ends: no closure of ours per request.
    const req = new Req(onPartial ? (err, d) => { if (!err) onPartial(d) } : null, null, null)
    const promise = new Promise((resolve, reject) => {
      req.resolve = resolve
      req.reject = reject
    })
    this._send(service, data, opts, req)
    return promise
  }

  /** Requests sent and not answered yet (refused beyond `conf.maxPending`). */
  get pending () {
    return this.reqs.size
  }

  /**
   * Heartbeat the broker, or the worker serving a request: by its id (a number, `stream.heartbeat()`)
   * or by a wire rid (a string, sent as given).
   */
  heartbeat (rid) {
    if (!this._handle) return
    const w = this._commands()
    if (rid === undefined || rid === null || rid === '') {
      w.begin(K.C_HEARTBEAT, 0)
    } else if (typeof rid === 'number') {
      w.begin(K.C_REQ_HEARTBEAT_ID, 1)
      w.num(rid)
    } else {
      w.begin(K.C_REQ_HEARTBEAT, 1)
      w.str(String(rid))
    }
  }

  _send (service, data, opts, req) {
    check.string(service, 'service')
    const o = opts !== null && typeof opts === 'object' ? opts : null
    // The caller's opts object is read, never written: filling its defaults in (as pigato does)
    // costs about 2 µs per request on a freshly made object, a fifth of the whole send path.
    const timeout = o === null || o.timeout === undefined ? this.conf.timeout : o.timeout
    const retry = o === null || o.retry === undefined ? this.conf.retry : o.retry
    const rid = this._ridSeq++
    req.ended = false
    req.rid = rid
    // A `retry` request is sent again when the connection it went out on closes (see _onLink).
    req.resend = retry > 0 ? { service, data, opts } : null
    const refused = !this._handle ? '"C_NOT_STARTED"' : this.reqs.size >= this.conf.maxPending ? '"C_PENDING_FULL"' : null
    this.reqs.set(rid, req)
    if (refused !== null) {
      if (refused === '"C_PENDING_FULL"') this.refusedPending = (this.refusedPending || 0) + 1
      process.nextTick(() => this._finish(rid, true, refused))
      return rid
    }
    const w = this._commands()
    w.begin(K.C_REQUEST, 5)
    w.str(service)
    w.num(rid)
    const json = JSON.stringify(data)
    w.str(json === undefined ? '' : json)
    w.str(o === null ? this._plainOptions() : optionsJson(o, timeout, retry))
    w.num(typeof timeout === 'number' ? timeout : Number(this.conf.timeout))
    return rid
  }

  /** The options frame of a request made without options, encoded once per value of the defaults. */
  _plainOptions () {
    const c = this.conf
    const p = this._plainOpts
    if (p === null || p.timeout !== c.timeout || p.retry !== c.retry) {
      this._plainOpts = { timeout: c.timeout, retry: c.retry, json: JSON.stringify({ timeout: c.timeout, retry: c.retry }) }
    }
    return this._plainOpts.json
  }

  _onBatch (handle, batch) {
    if (handle !== this._handle) return // a stopped session's late events
    const r = new BatchReader(batch)
    for (let kind = r.next(); kind !== -1; kind = r.next()) {
      switch (kind) {
        case K.E_PARTIAL: this._partial(r.num(), r.str()); break
        case K.E_FINAL: this._finish(r.num(), false, r.str()); break
        case K.E_FAILED: this._finish(r.num(), true, r.str()); break
        case K.E_ERROR: this._protocolError(r.str(), r.str()); break
        case K.E_LINK: this._onLink(r.str() === '1'); break
        default: this._sessionEvent(kind, r)
      }
    }
  }

  /**
   * The connection to the broker closed or came back (the session lives on). The `retry` requests that
   * were out when it closed may have died with the broker: they go again, under new ids, once it is back.
   * A multi-broker client replaces this (lib/multi.js) to move them to another broker at once.
   */
  _onLink (up) {
    if (!up) {
      for (const req of this.reqs.values()) if (req.resend) req.lost = true
      return
    }
    this._resendLost(this)
  }

  /** Sends again, through `to`, this client's requests that were out when its connection closed. */
  _resendLost (to) {
    for (const [rid, req] of Array.from(this.reqs)) {
      if (!req.lost || this._takeBack(rid) !== req) continue
      req.lost = false
      req.member = to
      const { service, data, opts } = req.resend
      to._send(service, data, opts, req)
    }
  }

  /** Takes back a request not answered yet (it moves to another broker); returns its record. */
  _takeBack (rid) {
    const req = this.reqs.get(rid)
    if (!req) return null
    this.reqs.delete(rid)
    // A late answer under the old id is expected, not a protocol error (bounded memory of such ids).
    this._movedIds.add(rid)
    if (this._movedIds.size > MOVED_IDS_MAX) this._movedIds.delete(this._movedIds.values().next().value)
    if (this._handle) {
      const w = this._commands()
      w.begin(K.C_CANCEL, 1)
      w.num(rid)
    }
    return req
  }

  /** A partial reply (an error reply ends its request: it comes as E_FAILED). */
  _partial (rid, data) {
    const req = this.reqs.get(rid)
    if (!req) return this._unknown(rid)
    const value = parseReply(data)
    if (req.stream) {
      this._safely(req.stream.push, req.stream, value)
    } else if (req.partial) {
      this._safely(req.partial, null, null, value)
    }
  }

  /** The final reply (`failed`: its data is the error). */
  _finish (rid, failed, data) {
    const req = this.reqs.get(rid)
    if (!req) return this._unknown(rid)
    this.reqs.delete(rid)
    req.ended = true
    let value = parseReply(data)
    const err = failed ? value : null
    if (err !== null) value = null
    if (req.resolve) {
      if (err !== null) req.reject(replyError(err))
      else req.resolve(value)
    } else if (req.stream) {
      if (err) this._safely(req.stream.emit, req.stream, 'error', err)
      this._safely(req.stream.push, req.stream, value)
      this._safely(req.stream.push, req.stream, null)
    } else if (req.final) {
      // pigato hands its numeric status (0) to the final callback on success.
      this._safely(req.final, null, err === null ? 0 : err, value)
    }
  }

  /** A reply for an id we do not hold: a moved request's late answer (dropped), else a protocol error. */
  _unknown (rid) {
    if (this._movedIds.has(rid)) return
    this._protocolError('ERR_REQ_INVALID', rid)
  }

  _failAll (code) {
    const json = JSON.stringify(code)
    for (const rid of Array.from(this.reqs.keys())) this._finish(rid, true, json)
  }

  /** Protocol errors go to 'error' listeners; with none they are counted, never thrown. */
  _protocolError (code) {
    this.droppedMessages = (this.droppedMessages || 0) + 1
    if (this.listenerCount('error') > 0) this._emitSafe('error', code)
  }
}

/**
 * One request the client holds until its final reply: one shape for every kind (callbacks, stream,
 * promise), every field set here, so V8 keeps them alike; a `call` keeps the promise's own resolving
 * functions instead of a closure of ours (heap per pending `call`: 988 -> 757 B, 50,000 pending).
 */
class Req {
  constructor (partial, final, stream) {
    // Its id in the client's `reqs` (a new one when it is sent again).
    this.rid = -1
    this.ended = false
    this.partial = partial
    this.final = final
    this.stream = stream
    this.resolve = null
    this.reject = null
    // { service, data, opts } of a `retry` request, sent again after a lost connection.
    this.resend = null
    this.lost = false
    // The member client it went through (multi-broker).
    this.member = null
  }
}

function replyError (value) {
  if (value instanceof Error) return value
  const err = new Error(typeof value === 'string' ? value : JSON.stringify(value))
  err.code = typeof value === 'string' ? value : 'EREPLY'
  err.data = value
  return err
}

/**
 * A request's opts frame: the caller's opts with `timeout` and `retry` filled in, as pigato sends
 * them. The usual shapes ({ timeout }, { retry }, both) are written directly: JSON.stringify
 * takes about 0.5 µs even for two keys.
 */
function optionsJson (o, timeout, retry) {
  if (typeof timeout === 'number' && typeof retry === 'number' && Number.isFinite(timeout) &&
      Number.isFinite(retry) && onlyTimeoutRetry(o)) {
    return '{"timeout":' + timeout + ',"retry":' + retry + '}'
  }
  const full = Object.assign({}, o)
  full.timeout = timeout
  full.retry = retry
  return JSON.stringify(full)
}

function onlyTimeoutRetry (o) {
  for (const key in o) if (key !== 'timeout' && key !== 'retry') return false
  return true
}

/** A reply's data frame: JSON when it parses, else the raw string (never a throw). */
function parseReply (data) {
  if (!data) return null
  try { return JSON.parse(data) } catch (e) { return data }
}

function noop () {}

adoptClientApi(Client)

module.exports = Client

'use strict'
// zmqbus node: `createNode(options)`. Discovery, election, the forwarder and the data path all
// run in Rust (src/bus); this facade packs publishes and subscriptions into batches (one
// native call per tick) and turns batched event records into EventEmitter events.
//
// Messages are arrays of Buffers (frame 0 is the channel), as in the original zmqbus. The
// Buffers are views into the batch that carried them: they stay valid as long as they are
// referenced, and copying one (`Buffer.from(buf)`) frees the rest of the batch sooner.
const native = require('./native')
const { securityConf } = require('./security')
const { NativeEngine } = require('./engine')
const { MessageIterator } = require('./bus-iterator')

// Record kinds (mirror src/bus/sink.rs; keep in sync).
const C_SUBSCRIBE = 1
const C_UNSUBSCRIBE = 2
const C_PUBLISH = 3
const E_READY = 1
const E_ELECTED = 2
const E_MESSAGE = 3
const E_ERROR = 4
const E_DROPPED = 5
const E_DISCARDED = 6
const E_STOPPED = 7
const E_REFUSED = 8

/** Pending command bytes that trigger a flush before the end of the tick. */
const FLUSH_BYTES = 256 * 1024
/** Default queue bound of each `messages()` iterator. */
const ITERATOR_LIMIT = 10000
const ENV_INTERFACE = 'ZMQBUS_MULTICAST_INTERFACE'
const ENV_CLUSTER_KEY = 'ZMQBUS_CLUSTER_KEY'
/** Why discovery datagrams are refused (mirror src/bus/datagrams.rs REASONS). */
const REFUSAL_REASONS = ['too_large', 'malformed', 'unsigned', 'signed', 'forged', 'stale', 'replayed']

class Node extends NativeEngine {
  constructor (options) {
    super()
    const json = optionsJson(options)
    // The README's form by default: one array, frame 0 the channel. 'spread' emits the frames as
    // separate arguments, as the original library's code does.
    this._spread = messageArgs(options) === 'spread'
    const handle = new native.NodeHandle(this._batchHandler((batch) => this._onBatch(batch)))
    let info
    try {
      info = handle.start(json)
    } catch (err) {
      throw jsError(err)
    }
    /** This node's id (10 digits; the smallest id wins elections). */
    this.id = info[0]
    /** Endpoints of this node's forwarder, as advertised. */
    this.subAddr = info[1]
    this.pubAddr = info[2]
    /** The elected node's id, or null before the first election. */
    this.master = null
    this.isMaster = false
    this.isReady = false
    /** Messages lost (publish buffer overflow, slow receiver, full iterator queues). */
    this.dropped = 0
    this.drops = { publish: 0, receive: 0, iterator: 0 }
    this._counts = { published: 0, received: 0, elections: 0, refusedDatagrams: 0 }
    this._refusedBy = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0]))
    this._handle = handle
    this._stopped = false
    this._stopPromise = null
    this._resolveStop = null
    this._subs = new Map() // channel -> { user: boolean, iters: number }
    this._iters = new Set()
    this._hold()
  }

  /** Receives messages whose channel equals one of `channels`; '*' means every channel. */
  subscribe (...channels) {
    this._usable('subscribe')
    for (const ch of channels.map(channelName)) {
      const entry = this._subs.get(ch)
      if (entry) {
        entry.user = true
      } else {
        this._subs.set(ch, { user: true, iters: 0 })
        this._command(C_SUBSCRIBE, ch)
      }
    }
  }

  /** Stops receiving `channels` (iterators over them keep theirs). */
  unsubscribe (...channels) {
    this._usable('unsubscribe')
    for (const ch of channels.map(channelName)) {
      const entry = this._subs.get(ch)
      if (!entry || !entry.user) continue
      entry.user = false
      if (entry.iters === 0) this._drop(ch)
    }
  }

  /**
   * Publishes one message cluster-wide: frame 0 is `channel`, then one frame per argument.
   * Strings and Buffers go as they are, numbers and booleans as String(x), objects and
   * arrays as JSON. Before 'ready' and while no master is reachable, messages wait in a
   * bounded buffer (option publish_buffer); overflow is counted ('drop' event, node.dropped).
   */
  publish (channel) {
    this._usable('publish')
    if (typeof channel !== 'string') throw argType('channel', 'a string', channel)
    const n = arguments.length
    const w = this._commands()
    const pos = w.pos
    const count = w.count
    try {
      w.begin(C_PUBLISH, n)
      w.str(channel)
      for (let i = 1; i < n; i++) frame(w, arguments[i])
    } catch (err) {
      w.pos = pos // an argument that cannot be encoded leaves no half record behind
      w.count = count
      throw err
    }
    this._counts.published++
    if (w.pos > FLUSH_BYTES) this._flush()
  }

  /**
   * Counters and gauges: messages published and received, drops by reason, refused discovery
   * datagrams (in total and by reason), elections seen, the master and whether it is this node.
   */
  stats () {
    return {
      ...this._counts,
      refusedDatagramsByReason: { ...this._refusedBy },
      dropped: { ...this.drops, total: this.dropped },
      master: this.master,
      isMaster: this.isMaster,
      ready: this.isReady,
      subscriptions: this._subs.size,
      forwarder: JSON.parse(this._handle.stats()).forwarder
    }
  }

  /** An async iterator over the messages of `channels` (default '*'); ends when the node stops. */
  messages (...args) {
    this._usable('messages')
    const last = args[args.length - 1]
    const opts = typeof last === 'object' && last !== null ? args.pop() : {}
    const channels = (args.length ? args : ['*']).map(channelName)
    const limit = opts.limit === undefined ? ITERATOR_LIMIT : opts.limit
    if (!Number.isInteger(limit) || limit < 1) throw argRange('limit', 'an integer >= 1', limit)
    const it = new MessageIterator(this, channels, limit)
    this._iters.add(it)
    for (const ch of new Set(channels)) {
      const entry = this._subs.get(ch)
      if (entry) {
        entry.iters++
      } else {
        this._subs.set(ch, { user: false, iters: 1 })
        this._command(C_SUBSCRIBE, ch)
      }
    }
    return it
  }


  /** Leaves the cluster (an election follows if this node was the master). A stopped node
   *  cannot be restarted or used. Resolves (and emits 'stop') once the sockets are closed. */
  stop (cb) {
    if (!this._stopPromise) {
      this._stopPromise = new Promise((resolve) => { this._resolveStop = resolve })
      this._flush() // publishes made before stop() still go out
      this._stopped = true
      this._handle.stop()
    }
    if (typeof cb === 'function') this._stopPromise.then(() => cb())
    return this._stopPromise
  }

  get stopped () { return this._stopped }

  _usable (what) {
    if (!this._stopped) return
    const err = new Error(`zmqbus: ${what}() on a stopped node; a stopped node cannot be restarted, create a new one`)
    err.code = 'ERR_NODE_STOPPED'
    throw err
  }

  _command (kind, ch) {
    const w = this._commands()
    w.begin(kind, 1)
    w.str(ch)
  }

  _drop (ch) {
    this._subs.delete(ch)
    if (!this._stopped) this._command(C_UNSUBSCRIBE, ch)
  }

  _iteratorDone (it) {
    if (!this._iters.delete(it)) return
    for (const ch of new Set(it.channels)) {
      const entry = this._subs.get(ch)
      if (entry && --entry.iters === 0 && !entry.user) this._drop(ch)
    }
  }

  _countDrop (count, reason) {
    this.dropped += count
    this.drops[reason] += count
    this._emitSafe('drop', count, reason)
  }

  _onBatch (batch) {
    const end = batch.length
    let pos = 0
    while (pos < end) {
      const kind = batch[pos]
      const n = batch[pos + 1] | (batch[pos + 2] << 8)
      pos += 3
      const frames = new Array(n)
      for (let i = 0; i < n; i++) {
        const len = (batch[pos] | (batch[pos + 1] << 8) | (batch[pos + 2] << 16)) + batch[pos + 3] * 0x1000000
        pos += 4
        frames[i] = batch.subarray(pos, pos + len)
        pos += len
      }
      if (kind === E_MESSAGE) this._deliver(frames)
      else this._onEvent(kind, frames)
    }
  }

  _deliver (msg) {
    this._counts.received++
    if (this._iters.size !== 0) {
      const ch = msg[0].toString()
      for (const it of this._iters) if (it.wants(ch)) it.push(msg)
      const entry = this._subs.get(ch)
      const all = this._subs.get('*')
      if (!(entry && entry.user) && !(all && all.user)) return
    }
    try {
      if (this._spread) this.emit('message', ...msg)
      else this.emit('message', msg)
    } catch (err) {
      this._userError(err)
    }
  }

  _onEvent (kind, f) {
    switch (kind) {
      case E_READY:
        this.isReady = true
        this._emitSafe('ready')
        break
      case E_ELECTED:
        this.master = f[0].toString()
        this.isMaster = f[1].toString() === '1'
        this._counts.elections++
        this._emitSafe('elected', { id: this.master, isMe: this.isMaster })
        break
      case E_ERROR: {
        const err = new Error('zmqbus: ' + f[0].toString())
        err.code = 'EBUS'
        if (this.listenerCount('error') > 0) this._emitSafe('error', err)
        else process.emitWarning(err)
        break
      }
      case E_DROPPED: this._countDrop(Number(f[0].toString()), 'publish'); break
      case E_DISCARDED: this._countDrop(Number(f[0].toString()), 'receive'); break
      case E_REFUSED: {
        const count = Number(f[0].toString())
        const reason = f.length > 1 ? f[1].toString() : 'malformed'
        this._counts.refusedDatagrams += count
        this._refusedBy[reason] = (this._refusedBy[reason] || 0) + count
        break
      }
      case E_STOPPED: this._onStopped(); break
    }
  }

  _onStopped () {
    this._stopped = true
    this._handle = null
    this._release()
    for (const it of [...this._iters]) it._finish(false)
    this._emitSafe('stop')
    if (this._resolveStop) this._resolveStop()
  }
}

/** One message frame: strings and bytes as is, scalars as String(x), objects as JSON. */
function frame (w, v) {
  if (typeof v === 'string') return w.str(v)
  if (typeof v === 'object' && v !== null) {
    if (v instanceof Uint8Array) return w.bytes(v)
    if (v instanceof ArrayBuffer) return w.bytes(new Uint8Array(v))
    const json = JSON.stringify(v)
    return w.str(json === undefined ? String(v) : json)
  }
  return w.str(String(v))
}

function channelName (ch) {
  if (typeof ch !== 'string') throw argType('channel', 'a string', ch)
  return ch
}

function optionsJson (options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object' || Array.isArray(options)) throw argType('options', 'an object', options)
  const opts = Object.assign({}, options)
  const env = process.env[ENV_INTERFACE]
  if ((opts.multicast_interface === undefined || opts.multicast_interface === null) && env) {
    opts.multicast_interface = env
  }
  // The environment's key applies only when the option is absent (never mixed with curve/plain given here).
  const envKey = process.env[ENV_CLUSTER_KEY]
  if ((opts.cluster_key === undefined || opts.cluster_key === null) && envKey) opts.cluster_key = envKey
  if (opts.cluster_key !== undefined && opts.cluster_key !== null && typeof opts.cluster_key !== 'string') {
    throw argType('options.cluster_key', 'a string', opts.cluster_key)
  }
  // Keys given as Buffers travel as Z85 text; shapes are checked here, meanings natively.
  const sec = securityConf(opts, 'options')
  if (opts.curve !== undefined && opts.curve !== null) opts.curve = sec.curve
  if (opts.plain !== undefined && opts.plain !== null) opts.plain = sec.plain
  const json = JSON.stringify(opts)
  try {
    native.busCheckOptions(json)
  } catch (err) {
    throw jsError(err)
  }
  return json
}

/** The `message_args` option: 'array' (default) or 'spread'. */
function messageArgs (options) {
  const v = options && options.message_args
  if (v === undefined || v === null || v === 'array') return 'array'
  if (v === 'spread') return 'spread'
  const err = new TypeError(`zmqbus: message_args must be 'array' or 'spread'; received ${show(v)}`)
  err.code = 'ERR_INVALID_ARG_VALUE'
  throw err
}

/** A native error with a Node-style code becomes a TypeError or RangeError. */
function jsError (err) {
  const code = err && err.code
  let out = err
  if (code === 'ERR_OUT_OF_RANGE') out = new RangeError(err.message)
  else if (code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_ARG_VALUE') out = new TypeError(err.message)
  else return err
  out.code = code
  return out
}

function show (v) {
  if (typeof v === 'string') return `'${v}'`
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object'
  return String(v)
}

function argType (name, want, got) {
  const err = new TypeError(`zmqbus: ${name} must be ${want}; received ${show(got)}`)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function argRange (name, want, got) {
  const err = new RangeError(`zmqbus: ${name} must be ${want}; received ${show(got)}`)
  err.code = 'ERR_OUT_OF_RANGE'
  return err
}

/** Starts a node; it emits 'ready' once connected to the elected master. */
function createNode (options) {
  return new Node(options)
}

module.exports = { createNode, Node }

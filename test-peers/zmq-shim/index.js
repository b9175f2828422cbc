'use strict'
// Test-only stand-in for the old native `zmq` module (2.x), so that pigato
// (which depends on `zmq ~2.15`) runs on zeromq@6 through its v5-compat API.
// It bridges the two places where pigato relies on old internals:
//  - `socket._zmq.state` is read before closing: answer STATE_CLOSED/READY
//    from the v6 socket's `closed` flag.
//  - identities are set on PUB/SUB sockets, whose v6 classes have no
//    `routingId` and throw: the identity is dropped there (it never did
//    anything on those socket types).
// It also works around a v5-compat hang: while bind()/unbind() is in
// progress the v6 socket is "blocked", and a message arriving then makes the
// compat receive loop call receive() again, which fails with EBUSY at once,
// in a loop of microtasks that never yields, so the bind never completes
// (seen as a frozen process when pigato's broker stops or restarts under
// traffic; sends in that window fail with EBUSY instead). The shim pauses the
// socket around bind/unbind, so traffic waits in the compat queues.

const compat = loadCompat()

function loadCompat() {
  // zeromq is a peer of this shim: it lives in the project's node_modules.
  // Normal resolution finds it through the shim's real path (a link inside the
  // project); the fallback covers a run with --preserve-symlinks.
  try {
    return require('zeromq/v5-compat')
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err
    const path = require.resolve('zeromq/v5-compat', { paths: [process.cwd()] })
    return require(path)
  }
}

const IDENTITY = compat.ZMQ_IDENTITY

const proto = compat.Socket.prototype
const originalSetsockopt = proto.setsockopt

function setsockopt(option, value) {
  const opt = typeof option === 'number' ? option : compat.options[option]
  if (opt === IDENTITY && !('routingId' in this._socket)) {
    // pigato names its PUB (and the Directory's SUB) sockets; libzmq ignored
    // that, zeromq@6 refuses it. Keep the old, silent behaviour.
    return this
  }
  return originalSetsockopt.call(this, option, value)
}

/** Runs `op` (bind or unbind) with the socket paused, resuming afterwards. */
function whilePaused(op) {
  return function (address, cb) {
    const wasPaused = this._paused
    this.pause()
    return op.call(this, address, (err) => {
      if (!wasPaused && !this.closed) this.resume()
      if (cb) cb(err)
      else if (err) this.emit('error', err)
    })
  }
}

if (!proto.__zmqShimPatched) {
  Object.defineProperty(proto, '__zmqShimPatched', { value: true })
  proto.setsockopt = setsockopt
  proto.bind = whilePaused(proto.bind)
  proto.unbind = whilePaused(proto.unbind)
  Object.defineProperty(proto, '_zmq', {
    configurable: true,
    get() {
      return { state: this._socket.closed ? compat.STATE_CLOSED : compat.STATE_READY }
    }
  })
}

module.exports = compat

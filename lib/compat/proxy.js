'use strict'
// zmq.proxy(frontend, backend[, capture]) of the old `zmq` module: the socket orders it took
// (ROUTER/DEALER, XREP/XREQ, PULL/PUSH, PUSH/PULL, XPUB/XSUB) and its error for any other.
// Between sockets of this package the proxy runs in the engine (src/sockets/proxy.rs): messages
// go from one socket's loop to the other's and never enter JS, and the sockets stop emitting
// 'message'. With a socket of another implementation on either side (a libzmq socket from the
// `zeromq` package), it runs here on 'message' events, as the old module's did.

const ORDERS = new Set(['router/dealer', 'xrep/xreq', 'pull/push', 'push/pull', 'xpub/xsub'])
const RECEIVES = new Set(['router', 'xrep', 'dealer', 'xreq', 'pull', 'xpub', 'xsub'])

/**
 * Forwards between `frontend` and `backend`; `capture` (optional) gets a copy of what the backend
 * forwards (replies of ROUTER/DEALER without their [id, ''] envelope, publications of XPUB/XSUB,
 * the messages of PUSH/PULL), or of what the frontend forwards when the backend does not receive
 * (PULL/PUSH: the old module tapped the PUSH side there, so its capture never got anything).
 * Throws 'wrong socket order to proxy' for any other pair of types.
 */
function proxy (frontend, backend, capture) {
  const order = `${frontend.type}/${backend.type}`
  if (!ORDERS.has(order)) throw new Error('wrong socket order to proxy')
  const Socket = require('../socket').Socket
  const ours = (s) => s instanceof Socket
  if (ours(frontend) && ours(backend) && (capture == null || ours(capture))) {
    frontend._flush()
    backend._flush()
    if (capture == null) frontend._handle.proxy(backend._handle)
    else {
      capture._flush()
      frontend._handle.proxyWithCapture(backend._handle, capture._handle)
    }
    return
  }
  proxyInJs(frontend, backend, capture)
}

function proxyInJs (frontend, backend, capture) {
  const strip = frontend.type === 'router' || frontend.type === 'xrep' ? 2 : 0
  const tapBackend = RECEIVES.has(backend.type)
  const forward = (to, tap) => (...frames) => {
    to.send(frames)
    if (tap && capture != null && frames.length > strip) capture.send(frames.slice(strip))
  }
  if (RECEIVES.has(frontend.type)) frontend.on('message', forward(backend, !tapBackend))
  if (tapBackend) backend.on('message', forward(frontend, true))
}

module.exports = { proxy }

'use strict'
// zmq.Context of the old `zmq` module: the process-wide limits libzmq keeps per context.
// Defaults are libzmq 4.3's: 1023 sockets (ZMQ_MAX_SOCKETS_DFLT) and 1 I/O thread. The socket
// limit is enforced (a socket beyond it fails with EMFILE, as zmq_socket does); the thread
// count is accepted and reported, since our engines choose their own threads.

const { codeError } = require('./errors')

let maxSockets = 1023
let maxThreads = 1
let open = 0

function checkCount (n, name, min) {
  if (!Number.isInteger(n) || n < min) {
    throw codeError('EINVAL', `${name} must be an integer >= ${min}; received ${String(n)}`, TypeError)
  }
  return n
}

const Context = {
  getMaxSockets () { return maxSockets },
  setMaxSockets (n) { maxSockets = checkCount(n, 'max sockets', 1) },
  getMaxThreads () { return maxThreads },
  setMaxThreads (n) { maxThreads = checkCount(n, 'max threads', 0) }
}

/** Counts a new socket; throws EMFILE past the limit. */
function acquireSocket () {
  if (open >= maxSockets) {
    throw codeError('EMFILE', `too many open sockets: ${open} of at most ${maxSockets} (zmq.Context.setMaxSockets raises the limit)`)
  }
  open++
}

/** A closed socket frees its place. */
function releaseSocket () {
  if (open > 0) open--
}

module.exports = { Context, acquireSocket, releaseSocket }

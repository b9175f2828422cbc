'use strict'
// Which implementation the classic `zmq` API spec runs against: ZMQ_IMPL=zeromq runs it against
// zeromq@6's v5-compat layer (libzmq 4.3.5 underneath), anything else against ours.
const IMPL = process.env.ZMQ_IMPL === 'zeromq' ? 'zeromq' : 'zmqbus'
const zmq = IMPL === 'zeromq' ? require('zeromq/v5-compat') : require('../../zmq.js')

module.exports = { IMPL, zmq }

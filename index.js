'use strict'
// zmqbus: one package for the brokerless bus, the pigato request/reply framework and the
// classic ZeroMQ socket API, all over a Rust core. Hand-written entry over binding.js.
const Broker = require('./lib/broker')
const Worker = require('./lib/worker')
const Client = require('./lib/client')
const Directory = require('./lib/directory')
const zmq = require('./lib/socket')
const { createNode, Node } = require('./lib/bus')

module.exports = {
  Broker,
  Worker,
  Client,
  services: { Directory },
  // classic `zmq` module API (also published alone as `zmqbus/zmq`)
  ...zmq,
  Socket: zmq.Socket,
  socket: zmq.socket,
  createSocket: zmq.createSocket,
  createNode,
  Node,
  // busmq-compatible queues on Redis (also published alone as `zmqbus/busmq`)
  get busmq () { return require('./lib/busmq') },
  // CURVE keys in Z85 (also `zmq.curveKeypair()` in the classic API)
  ...require('./lib/security').keys,
  nativeVersion: () => require('./lib/native').nativeVersion()
}

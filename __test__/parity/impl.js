'use strict'
// Which implementation the parity spec runs against: ZMQBUS_IMPL=pigato runs
// it against the original npm package (on the zmq shim), anything else against
// ours. Both expose the pigato API: Broker, Worker, Client, services.Directory.
const IMPL = process.env.ZMQBUS_IMPL === 'pigato' ? 'pigato' : 'zmqbus'

const pigato = IMPL === 'pigato' ? require('pigato') : require('../..')

module.exports = { IMPL, pigato }

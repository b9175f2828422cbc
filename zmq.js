'use strict'
// Drop-in entry for code written against the old `zmq` module: require('zmqbus/zmq').
module.exports = require('./lib/socket')

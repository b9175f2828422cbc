'use strict'
// zmqbus/busmq: a drop-in for the busmq module (queues over Redis, shared with busmq 3.1's
// processes). `require('zmqbus/busmq').create(options)` as with `require('busmq')`.
const { Bus } = require('./bus')
const { Queue } = require('./queue')
const { Channel } = require('./channel')
const { Pubsub } = require('./pubsub')
const { Service } = require('./service')
const { BusmqError } = require('./errors')

/** Creates a bus; `options.redis` (url or urls) may also be given later to `connect()`. */
function create (options) {
  return new Bus(options)
}

module.exports = { create, Bus, Queue, Channel, Pubsub, Service, BusmqError }

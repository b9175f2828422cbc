'use strict'
// Compat entry for code written for the original zmqbus: `require('zmqbus/zmqbus').createNode(opts)`.
module.exports = require('./index.js')

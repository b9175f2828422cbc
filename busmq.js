module.exports = require('./lib/busmq')

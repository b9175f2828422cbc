'use strict'
// Record kinds of the busmq handle, defined once in Rust (src/busmq/codec.rs) and read here.
module.exports = Object.freeze(JSON.parse(require('../native').busmqKinds()))

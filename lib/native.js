'use strict'
// The generated napi loader, loaded once. Kept apart so facades can be required without
// loading the addon twice and so a missing build fails with a clear message.
let binding
try {
  binding = require('../binding.js')
} catch (err) {
  const e = new Error('zmqbus: the native addon is not built (run `npm run build`): ' + err.message)
  e.code = 'ENOADDON'
  throw e
}
module.exports = binding

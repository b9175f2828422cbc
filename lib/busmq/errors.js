'use strict'
// busmq emits plain strings as errors; we emit Errors with a `code`. toString() returns the
// bare message, so code written for busmq (`err == 'already connected'`, `'failed: ' + err`)
// still reads the same text.

class BusmqError extends Error {
  constructor (code, message) {
    super(message)
    this.name = 'BusmqError'
    this.code = code
  }

  toString () { return this.message }
}

function typeError (message) {
  const err = new TypeError(message)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

module.exports = { BusmqError, typeError }

'use strict'
// Errors the facades throw: the class users test with `instanceof`, and the `code` they compare.

/** An error of class `Ctor` with `message` and `code` (`EINVAL`, `ENOTSOCK`, ...). */
function codeError (code, message, Ctor = Error) {
  const err = new Ctor(message)
  err.code = code
  return err
}

module.exports = { codeError }

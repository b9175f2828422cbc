'use strict'
// Argument checks shared by the facades: wrong types fail at once with a TypeError that names
// the argument, instead of surfacing later as a protocol error.

function typeError (msg) {
  const err = new TypeError(msg)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function describe (v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'string' ? `'${v}'` : typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`
}

/** `name` must be a non-empty string. */
function string (value, name) {
  if (typeof value !== 'string' || value.length === 0) {
    throw typeError(`The "${name}" argument must be a non-empty string; received ${describe(value)}`)
  }
  return value
}

/** `name` must be a ZeroMQ endpoint string tcp://, ipc:// or inproc://. */
function endpoint (value, name) {
  string(value, name)
  if (!/^(tcp|ipc|inproc):\/\/./.test(value)) {
    throw typeError(`The "${name}" argument must be a tcp://, ipc:// or inproc:// endpoint; received ${describe(value)}`)
  }
  return value
}

/** `conf` must be undefined or a plain object. */
function conf (value, name = 'conf') {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(`The "${name}" argument must be an object; received ${describe(value)}`)
  }
  return value
}

/** Checks optional numeric fields of a conf object: each must be a finite number >= min. */
function numbers (obj, fields, prefix = 'conf') {
  for (const [field, min] of fields) {
    const v = obj[field]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      throw typeError(`The "${prefix}.${field}" option must be a number >= ${min}; received ${describe(v)}`)
    }
  }
}

/** Checks optional function fields of a conf object. */
function functions (obj, fields, prefix = 'conf') {
  for (const field of fields) {
    const v = obj[field]
    if (v !== undefined && typeof v !== 'function') {
      throw typeError(`The "${prefix}.${field}" option must be a function; received ${describe(v)}`)
    }
  }
}

module.exports = { string, endpoint, conf, numbers, functions, typeError }

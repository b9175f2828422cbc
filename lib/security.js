'use strict'
// `conf.curve` / `conf.plain` for every engine: shapes checked here (TypeError naming the option), keys
// turned into Z85 text for the native side, which checks what they mean (EINVAL: a key that is not a key,
// a public key that does not belong to its secret).
const native = require('./native')
const check = require('./validate')

const KEY_FIELDS = ['publicKey', 'secretKey', 'serverKey']

/** A key given as 40 Z85 characters or a 32-byte Buffer/Uint8Array, as Z85 text. */
function z85Key (value, name) {
  if (typeof value === 'string' && value.length === 40) return value
  if (value instanceof Uint8Array && value.length === 32) return native.z85Encode(Buffer.from(value))
  throw check.typeError(`The "${name}" option must be a 40-character Z85 string or a 32-byte Buffer`)
}

function curveConf (curve, prefix) {
  check.conf(curve, prefix)
  const out = {}
  for (const field of KEY_FIELDS) {
    if (curve[field] !== undefined) out[field] = z85Key(curve[field], `${prefix}.${field}`)
  }
  if (curve.clients !== undefined) {
    if (!Array.isArray(curve.clients)) throw check.typeError(`The "${prefix}.clients" option must be an array of public keys`)
    out.clients = curve.clients.map((k, i) => z85Key(k, `${prefix}.clients[${i}]`))
  }
  return out
}

function plainConf (plain, prefix) {
  check.conf(plain, prefix)
  const out = {}
  for (const field of ['username', 'password']) {
    if (plain[field] !== undefined && typeof plain[field] !== 'string') {
      throw check.typeError(`The "${prefix}.${field}" option must be a string`)
    }
    if (plain[field] !== undefined) out[field] = plain[field]
  }
  if (plain.users !== undefined) {
    check.conf(plain.users, `${prefix}.users`)
    for (const [user, pass] of Object.entries(plain.users)) {
      if (typeof pass !== 'string') throw check.typeError(`The "${prefix}.users.${user}" password must be a string`)
    }
    out.users = plain.users
  }
  return out
}

/** The security fields of `conf` ready for the native JSON, or `{}` for NULL. */
function securityConf (conf, prefix = 'conf') {
  const out = {}
  if (conf.curve !== undefined && conf.curve !== null) out.curve = curveConf(conf.curve, `${prefix}.curve`)
  if (conf.plain !== undefined && conf.plain !== null) out.plain = plainConf(conf.plain, `${prefix}.plain`)
  return out
}

/** The security options as the JSON argument of a connecting engine (`undefined` for NULL). */
function securityJson (conf, prefix = 'conf') {
  const sec = securityConf(conf, prefix)
  return sec.curve || sec.plain ? JSON.stringify(sec) : undefined
}

/** A fresh CURVE key pair, `{ publicKey, secretKey }` in Z85. */
function curveKeyPair () {
  return native.curveKeyPair()
}

const keys = {
  curveKeyPair,
  curvePublic: (secretKey) => native.curvePublic(z85Key(secretKey, 'secretKey')),
  z85Encode: (data) => native.z85Encode(Buffer.from(data)),
  z85Decode: (text) => native.z85Decode(String(text))
}

module.exports = { securityConf, securityJson, keys }

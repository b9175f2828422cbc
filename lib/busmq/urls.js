'use strict'
// Where to connect: urls from `create({ redis })` or `connect(urls)`, and the settings of a
// node-redis or ioredis client object handed to `withRedis()`.

function urlList (value) {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value.slice() : [value]
}

/** A redis:// url from a node-redis (2.x-4.x) or ioredis client object's connection settings. */
function urlOfClient (client) {
  if (!client || typeof client !== 'object') return null
  const o = client.options || client.connection_options || {}
  const sock = o.socket || {}
  const host = o.host || sock.host || client.address?.split(':')[0] || '127.0.0.1'
  const port = o.port || sock.port || 6379
  const password = o.password || o.auth_pass || client.auth_pass || ''
  const username = o.username || ''
  const db = o.db || o.database || client.selected_db || 0
  const tls = Boolean(o.tls || sock.tls)
  if (typeof o.url === 'string') return tls ? o.url.replace(/^redis:/, 'rediss:') : o.url
  const auth = password ? `${encodeURIComponent(username)}:${encodeURIComponent(password)}@` : ''
  const h = String(host).includes(':') ? `[${host}]` : host
  return `${tls ? 'rediss' : 'redis'}://${auth}${h}:${port}/${db}`
}

/**
 * The TLS options of a node-redis or ioredis client object (ioredis and node-redis 2.x/3.x:
 * `options.tls`; node-redis 4.x: `options.socket` with `tls: true`), or null.
 */
function tlsOfClient (client) {
  if (!client || typeof client !== 'object') return null
  const o = client.options || client.connection_options || {}
  if (o.tls && typeof o.tls === 'object') return o.tls
  if (o.tls === true) return {}
  if (o.socket && o.socket.tls) return o.socket
  return null
}

/** PEM text of a `tls.connect` certificate option: a string, a Buffer, or an array of them. */
function pem (value) {
  if (value === undefined || value === null) return undefined
  const parts = Array.isArray(value) ? value : [value]
  return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('\n')
}

/**
 * The native TLS settings from `tls.connect` options (`ca`, `cert`, `key`,
 * `rejectUnauthorized`); `undefined` for no TLS. `true` means TLS with the system's CAs.
 */
function tlsSettings (tls) {
  if (tls === undefined || tls === null || tls === false) return undefined
  if (typeof tls !== 'object') return {}
  const out = {}
  for (const k of ['ca', 'cert', 'key']) {
    const v = pem(tls[k])
    if (v !== undefined) out[k] = v
  }
  if (tls.rejectUnauthorized === false) out.rejectUnauthorized = false
  return out
}

module.exports = { urlList, urlOfClient, tlsOfClient, tlsSettings }

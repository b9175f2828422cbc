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
  if (typeof o.url === 'string') return o.url
  const auth = password ? `${encodeURIComponent(username)}:${encodeURIComponent(password)}@` : ''
  const h = String(host).includes(':') ? `[${host}]` : host
  return `${tls ? 'rediss' : 'redis'}://${auth}${h}:${port}/${db}`
}

module.exports = { urlList, urlOfClient }

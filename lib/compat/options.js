'use strict'
// The old `zmq` module's socket options: every entry of its option table, by number, by
// ZMQ_* constant and by sugar property, with libzmq 4.3's defaults and verdicts. `live`
// options act on the socket (our ZMTP engine: connections, pipes, security, the kernel's tcp
// options); `stored` ones are accepted and read back as libzmq would (multicast, timeouts of
// blocking calls and the like, which have no meaning here); `rejected` ones are those libzmq 4.3
// refuses (EINVAL), as it does.

/** libzmq version whose socket semantics we implement (zmq.version). */
const VERSION = '4.3.5'

// [name, number, kind, default, verdict]; kind: int, bool, bytes, string, key (CURVE key:
// 32 bytes or 40 Z85 characters); verdict: live, stored, rejected, getonly, setonly.
const TABLE = [
  ['hwm', 1, 'int', undefined, 'rejected'],
  ['swap', 3, 'int', undefined, 'rejected'],
  ['affinity', 4, 'int', 0, 'stored'],
  ['identity', 5, 'bytes', undefined, 'live'],
  ['_subscribe', 6, 'bytes', undefined, 'live'],
  ['_unsubscribe', 7, 'bytes', undefined, 'live'],
  ['rate', 8, 'int', 100, 'stored'],
  ['recovery_ivl', 9, 'int', 10000, 'stored'],
  ['mcast_loop', 10, 'int', undefined, 'rejected'],
  ['sndbuf', 11, 'int', -1, 'live'],
  ['rcvbuf', 12, 'int', -1, 'live'],
  ['_receiveMore', 13, 'int', 0, 'getonly'],
  ['_fd', 14, 'int', -1, 'getonly'],
  ['_ioevents', 15, 'int', 2, 'getonly'],
  ['type', 16, 'int', undefined, 'getonly'],
  ['linger', 17, 'int', -1, 'live'],
  ['reconnect_ivl', 18, 'int', 100, 'live'],
  ['backlog', 19, 'int', 100, 'live'],
  ['recovery_ivl_msec', 20, 'int', undefined, 'rejected'],
  ['reconnect_ivl_max', 21, 'int', 0, 'live'],
  ['maxmsgsize', 22, 'int', -1, 'live'],
  ['sndhwm', 23, 'int', 1000, 'live'],
  ['rcvhwm', 24, 'int', 1000, 'live'],
  ['multicast_hops', 25, 'int', 1, 'stored'],
  ['rcvtimeo', 27, 'int', -1, 'stored'],
  ['sndtimeo', 28, 'int', -1, 'stored'],
  ['ipv4only', 31, 'bool', 1, 'stored'],
  ['last_endpoint', 32, 'string', '', 'getonly'],
  ['router_mandatory', 33, 'bool', 0, 'live'],
  ['tcp_keepalive', 34, 'int', -1, 'live'],
  ['tcp_keepalive_cnt', 35, 'int', -1, 'live'],
  ['tcp_keepalive_idle', 36, 'int', -1, 'live'],
  ['tcp_keepalive_intvl', 37, 'int', -1, 'live'],
  ['tcp_accept_filter', 38, 'string', undefined, 'setonly'],
  ['immediate', 39, 'bool', 0, 'live'],
  ['xpub_verbose', 40, 'bool', 0, 'setonly'],
  ['router_raw', 41, 'bool', 0, 'setonly'],
  ['ipv6', 42, 'bool', 0, 'stored'],
  ['mechanism', 43, 'int', 0, 'getonly'],
  ['plain_server', 44, 'bool', 0, 'live'],
  ['plain_username', 45, 'string', '', 'live'],
  ['plain_password', 46, 'string', '', 'live'],
  ['curve_server', 47, 'bool', 0, 'live'],
  ['curve_publickey', 48, 'key', undefined, 'live'],
  ['curve_secretkey', 49, 'key', undefined, 'live'],
  ['curve_serverkey', 50, 'key', undefined, 'live'],
  ['zap_domain', 55, 'string', '', 'live'],
  ['req_correlate', 52, 'bool', 0, 'setonly'],
  ['req_relaxed', 53, 'bool', 0, 'setonly'],
  ['handshake_ivl', 66, 'int', 30000, 'live'],
  ['heartbeat_ivl', 75, 'int', 0, 'live'],
  ['heartbeat_ttl', 76, 'int', 0, 'live'],
  ['heartbeat_timeout', 77, 'int', -1, 'live'],
  ['xpub_verboser', 78, 'bool', 0, 'setonly']
]

const BY_NAME = new Map()
const BY_NUMBER = new Map()
for (const [name, id, kind, dflt, verdict] of TABLE) {
  const entry = Object.freeze({ name, id, kind, default: dflt, verdict })
  BY_NAME.set(name, entry)
  BY_NUMBER.set(id, entry)
}

/** The old module's `zmq.options`: sugar name -> option number. */
const options = Object.freeze(Object.fromEntries(TABLE.map(([name, id]) => [name, id])))

/** ZMQ_* names of the options and context settings the old module defined. */
const LONG_OPTIONS = Object.freeze({
  ZMQ_HWM: 1,
  ZMQ_SWAP: 3,
  ZMQ_MCAST_LOOP: 10,
  ZMQ_RECOVERY_IVL_MSEC: 20,
  ZMQ_IPV4ONLY: 31,
  ZMQ_TCP_ACCEPT_FILTER: 38,
  ZMQ_DELAY_ATTACH_ON_CONNECT: 39,
  ZMQ_ROUTER_RAW: 41,
  ZMQ_MECHANISM: 43,
  ZMQ_PLAIN_SERVER: 44,
  ZMQ_PLAIN_USERNAME: 45,
  ZMQ_PLAIN_PASSWORD: 46,
  ZMQ_CURVE_SERVER: 47,
  ZMQ_CURVE_PUBLICKEY: 48,
  ZMQ_CURVE_SECRETKEY: 49,
  ZMQ_CURVE_SERVERKEY: 50,
  ZMQ_ZAP_DOMAIN: 55,
  ZMQ_REQ_CORRELATE: 52,
  ZMQ_REQ_RELAXED: 53,
  ZMQ_HANDSHAKE_IVL: 66,
  ZMQ_HEARTBEAT_IVL: 75,
  ZMQ_HEARTBEAT_TTL: 76,
  ZMQ_HEARTBEAT_TIMEOUT: 77,
  ZMQ_XPUB_VERBOSER: 78,
  ZMQ_NULL: 0,
  ZMQ_PLAIN: 1,
  ZMQ_CURVE: 2,
  ZMQ_IO_THREADS: 1,
  ZMQ_MAX_SOCKETS: 2
})

/** Monitor event numbers and their event names (the old module's `zmq.events`). */
const events = Object.freeze({
  1: 'connect',
  2: 'connect_delay',
  4: 'connect_retry',
  8: 'listen',
  16: 'bind_error',
  32: 'accept',
  64: 'accept_error',
  128: 'close',
  256: 'close_error',
  512: 'disconnect'
})

/** Feature flags and socket states of the old module's binding. */
const FLAGS = Object.freeze({
  ZMQ_CAN_DISCONNECT: 1,
  ZMQ_CAN_UNBIND: 1,
  ZMQ_CAN_MONITOR: 1,
  ZMQ_CAN_SET_CTX: 1,
  STATE_READY: 0,
  STATE_BUSY: 1,
  STATE_CLOSED: 2
})

/** The option entry for a name or number, or undefined. */
function lookup (opt) {
  return typeof opt === 'number' ? BY_NUMBER.get(opt) : BY_NAME.get(opt)
}

module.exports = { VERSION, TABLE, options, events, LONG_OPTIONS, FLAGS, lookup }

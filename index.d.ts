// Hand-written public types of zmqbus (the generated native types are in binding.d.ts).
import { EventEmitter } from 'events'
import { Readable, Writable } from 'stream'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

// ---------------------------------------------------------------- pigato request/reply

export interface BrokerConf {
  /** Heartbeat period in ms (default 2500). */
  heartbeat?: number
  /** Missed heartbeats before a worker is purged (default 3). */
  heartbeatLiveness?: number
  /** Dispatch mode: fewest in flight first ('load', default) or random ('rand'). */
  dmode?: 'load' | 'rand'
  /** ROUTER identity (default 'B' + uuid). */
  name?: string
  /** Internal PUB channel for core services (default 'tcp://127.0.0.1:55550'); false disables it. */
  intch?: string | false
  /** Persistence controller for requests sent with `persist: true`. */
  ctrl?: { rset(req: PersistedRequest, cb?: () => void): void; rdel(req: { rid: string }): void; rgetall(cb: (err: unknown, reqs: Record<string, PersistedRequest>) => void): void }
  /** Reply cache bounds (entries, bytes). */
  cacheMaxEntries?: number
  cacheMaxBytes?: number
  /**
   * Most requests waiting in one service's queue (default 20,000); a request beyond it fails at once
   * with `C_QUEUE_FULL`. `Infinity` queues without bound, as pigato does.
   */
  maxQueue?: number
  /**
   * Most bytes of requests (all their frames) the broker holds, queued and at workers together
   * (default 256 MiB); a request beyond it fails at once with `C_QUEUE_FULL`. `Infinity` lifts it.
   */
  maxBytes?: number
  /** Largest frame a peer may send, in bytes (ZMQ_MAXMSGSIZE); default 64 MiB. */
  maxMsgSize?: number
  /** Milliseconds a connection has to finish its ZMTP handshake (ZMQ_HANDSHAKE_IVL); default 30000. */
  handshakeTimeout?: number
  /** CURVE on the listening socket: every peer must present a key (`clients`: the public keys allowed). */
  curve?: CurveServerConf
  /** PLAIN on the listening socket: every peer must log in as one of `users`. */
  plain?: { users: Record<string, string> }
  onStart?: () => void
  onStop?: () => void
}

/** A CURVE key: 40 Z85 characters or 32 bytes. */
export type CurveKey = string | Uint8Array
export interface CurveServerConf { secretKey: CurveKey; publicKey?: CurveKey; clients?: CurveKey[] }
export interface CurveClientConf { serverKey: CurveKey; publicKey?: CurveKey; secretKey?: CurveKey }
export interface CurveKeyPair { publicKey: string; secretKey: string }
/** A fresh CURVE key pair in Z85 (`zmq_curve_keypair`). */
export declare function curveKeyPair(): CurveKeyPair
/** The public key of a secret key, in Z85 (`zmq_curve_public`). */
export declare function curvePublic(secretKey: CurveKey): string
/** Z85 text of bytes whose length is a multiple of 4. */
export declare function z85Encode(data: Uint8Array): string
/** The bytes of Z85 text whose length is a multiple of 5. */
export declare function z85Decode(text: string): Buffer

export interface PersistedRequest { rid: string; clientId: string; service: string; opts: Record<string, Json>; msg: string[] }

export interface BrokerStats { [counter: string]: number }

export declare class Broker extends EventEmitter {
  constructor(endpoint: string, conf?: BrokerConf)
  readonly endpoint: string
  conf: BrokerConf & { name: string; intch: string | false }
  start(cb?: () => void): void
  stop(cb?: () => void): void
  /** Counters of the running broker, or null when stopped. */
  stats(): BrokerStats | null
  on(event: 'start' | 'stop', listener: () => void): this
  on(event: 'error', listener: (err: Error | string) => void): this
}

export interface WorkerConf {
  prefix?: string
  /** CURVE towards a broker that has `conf.curve`: its public key, and our pair (made fresh if absent). */
  curve?: CurveClientConf
  /** PLAIN login towards a broker that has `conf.plain`. */
  plain?: { username: string; password?: string }
  /** Max requests in flight (default 100, -1 unlimited); may change at any time. */
  concurrency?: number
  heartbeat?: number
  reconnect?: number
  onConnect?: () => void
  onDisconnect?: () => void
}

export interface RequestOpts {
  /** ms; default the client's conf.timeout (60000); -1 = never. */
  timeout?: number
  /** 1 = re-queue to another worker if the serving worker dies. */
  retry?: number
  /** Only this worker may serve the request. */
  workerId?: string
  /** Skip the broker's reply cache. */
  nocache?: boolean
  /** Hand the request to the broker's persistence controller. */
  persist?: boolean
  [key: string]: Json | undefined
}

export declare class Reply extends Writable {
  /** True once end()/error()/reject() was called. */
  readonly ended: boolean
  /** Sent with every reply; `opts.cache = ms` lets the broker answer identical requests from cache. */
  opts: { cache?: number; [key: string]: Json | undefined }
  /** A partial reply. */
  write(data: Json, cb?: (err?: Error | null) => void): boolean
  write(data: Json, encoding: BufferEncoding, cb?: (err?: Error | null) => void): boolean
  /** The final reply (none: an empty final reply). */
  end(cb?: () => void): this
  end(data: Json, cb?: () => void): this
  end(data: Json, encoding: BufferEncoding, cb?: () => void): this
  reject(err?: Json): void
  error(err: Json): void
  heartbeat(): void
  active(): boolean
}

export declare class Worker extends EventEmitter {
  /**
   * `broker` may be a list: the worker registers with every broker of it (one session each, in
   * `members`), and its 'request' events come from all of them.
   */
  constructor(broker: string | string[], service: string, conf?: WorkerConf)
  /** With a list of brokers: one worker per broker. */
  readonly members?: Worker[]
  readonly service: string
  socketId?: string
  conf: Required<Pick<WorkerConf, 'prefix' | 'concurrency' | 'heartbeat' | 'reconnect'>> & WorkerConf
  start(): void
  stop(): void
  heartbeat(opts?: Record<string, Json>): void
  on(event: 'request', listener: (data: any, reply: Reply, opts: RequestOpts) => void): this
  on(event: 'start' | 'stop' | 'connect' | 'disconnect', listener: () => void): this
  on(event: 'error', listener: (err: Error | string) => void): this
}

export interface ClientConf {
  prefix?: string
  /** CURVE towards a broker that has `conf.curve`: its public key, and our pair (made fresh if absent). */
  curve?: CurveClientConf
  /** PLAIN login towards a broker that has `conf.plain`. */
  plain?: { username: string; password?: string }
  autostart?: boolean
  heartbeat?: number
  reconnect?: number
  timeout?: number
  retry?: number
  /**
   * Most requests unanswered at once (default 100,000); one beyond it fails at once with
   * `C_PENDING_FULL`. `Infinity` lifts the bound.
   */
  maxPending?: number
  onConnect?: () => void
  onDisconnect?: () => void
}

export interface RequestStream extends Readable {
  /** Sends a request heartbeat to the worker serving this request. */
  heartbeat(): void
}

/** Rejection of `client.call()`: `code` is the error string ('C_TIMEOUT', ...), `data` the raw value. */
export interface ReplyError extends Error { code: string; data: Json }

export declare class Client extends EventEmitter {
  /**
   * `broker` may be a list: requests are spread over the brokers the client is connected to, and when
   * one's connection closes its unanswered `retry` requests are re-sent through another at once.
   */
  constructor(broker: string | string[], conf?: ClientConf)
  /** With a list of brokers: one client per broker. */
  readonly members?: Client[]
  socketId?: string
  conf: Required<Pick<ClientConf, 'prefix' | 'heartbeat' | 'reconnect' | 'timeout' | 'retry'>> & ClientConf
  start(): void
  stop(): void
  request(service: string, data?: Json, opts?: RequestOpts): RequestStream
  request(service: string, data: Json | undefined, partial: ((err: null, data: any) => void) | null | undefined,
    final: (err: any, data: any) => void, opts?: RequestOpts): void
  requestStream(service: string, data?: Json, opts?: RequestOpts): RequestStream
  /** Promise of the final reply; partial replies go to onPartial. */
  call<T = any>(service: string, data?: Json, opts?: RequestOpts, onPartial?: (data: any) => void): Promise<T>
  heartbeat(rid?: string): void
  /** Requests sent and not answered yet. */
  readonly pending: number
  on(event: 'start' | 'stop' | 'connect' | 'disconnect', listener: () => void): this
  on(event: 'error', listener: (err: Error | string) => void): this
}

export declare namespace services {
  class Directory {
    constructor(endpoint: string, conf: { intch: string; onStart?: () => void; onStop?: () => void })
    start(): void
    stop(): void
  }
}


// ---------------------------------------------------------------- classic `zmq` sockets

/** Socket type names accepted by `socket()` (also the ZMQ_* numbers). PAIR and STREAM throw EINVAL (not supported). */
export type SocketTypeName = 'pub' | 'sub' | 'xsub' | 'req' | 'rep' | 'dealer' | 'router' | 'push' | 'pull' | 'xreq' | 'xrep' | 'pair' | 'xpub' | 'stream'
/** A message frame as accepted by `send` (numbers are sent as their decimal string). */
export type Frame = string | Buffer | Uint8Array | number
/** An error from a socket: `code` is the libzmq errno name (EINVAL, EADDRINUSE, ENOTSOCK, EFSM...). */
export interface SocketError extends Error { code: string }

export interface SocketOptions {
  /** ZMQ_IDENTITY / ZMQ_ROUTING_ID (1-255 bytes); set before bind/connect. */
  identity?: string | Buffer
  routingId?: string | Buffer
  /** ZMQ_LINGER in ms (-1: flush queued messages at close, for at most 30 s). */
  linger?: number
  /** ZMQ_SNDHWM (messages); set before bind/connect. */
  sndhwm?: number
  /** ZMQ_RCVHWM (messages); set before bind/connect. */
  rcvhwm?: number
  /** ZMQ_CURVE_SERVER: this socket is a CURVE server (needs `curveSecretKey`). */
  curveServer?: boolean
  /** ZMQ_CURVE_PUBLICKEY / _SECRETKEY / _SERVERKEY: 32-byte keys or 40 Z85 characters. */
  curvePublicKey?: string | Buffer
  curveSecretKey?: string | Buffer
  curveServerKey?: string | Buffer
  /** ZMQ_PLAIN_SERVER: this socket is a PLAIN server (admits the users given to `authorize`). */
  plainServer?: boolean
  /** ZMQ_PLAIN_USERNAME / _PASSWORD: this socket is a PLAIN client. */
  plainUsername?: string
  plainPassword?: string
  /** ZMQ_ROUTER_MANDATORY: a send to an unknown routing id fails with EHOSTUNREACH. */
  mandatory?: boolean
  /** ZMQ_RECONNECT_IVL / _MAX in ms. */
  reconnectInterval?: number
  reconnectMaxInterval?: number
  /** ZMQ_HEARTBEAT_IVL / _TIMEOUT / _TTL in ms. */
  heartbeatInterval?: number
  heartbeatTimeout?: number
  heartbeatTimeToLive?: number
  /** ZMQ_HANDSHAKE_IVL in ms (0: none). */
  handshakeInterval?: number
  /** ZMQ_MAXMSGSIZE in bytes (-1: the engine's protective default). */
  maxMessageSize?: number
  /** ZMQ_REQ_RELAXED / ZMQ_REQ_CORRELATE. */
  relaxed?: boolean
  correlate?: boolean
}

/** Counters of a socket's engine (`sock.stats()`). */
/** What a client presented, as a server socket's authenticator handler sees it. */
export interface AuthRequest {
  mechanism: 'PLAIN' | 'CURVE'
  /** The socket's `zap_domain` ('' when none is set). */
  domain: string
  /** PLAIN only. */
  username?: string
  /** PLAIN only. */
  password?: string
  /** CURVE only: the client's long-term public key in Z85. */
  publicKey?: string
}

export interface SocketStats {
  accepted?: number
  active?: number
  handshaking?: number
  /** Connections refused, by reason (a wrong CURVE key, a bad PLAIN password, a second PAIR peer...). */
  refused?: Record<string, number>
  handshakeEof?: number
  dial?: { attempts: number; failed: number; connected: number }
}

/** A socket with the old `zmq` module's API. Also async-iterable: `for await (const frames of sock)`. */
export declare class Socket extends EventEmitter implements AsyncIterable<Buffer[]> {
  constructor(type: SocketTypeName | number)
  /** The type name ('dealer', ...). */
  readonly type: string
  readonly closed: boolean
  identity: string | Buffer | undefined
  routingId: string | Buffer | undefined
  linger: number
  sndhwm: number
  rcvhwm: number
  /** ZMQ_MECHANISM: 0 NULL, 1 PLAIN, 2 CURVE, from the options set. */
  readonly mechanism: number
  curveServer: boolean
  curvePublicKey: string | undefined
  curveSecretKey: string | undefined
  curveServerKey: string | undefined
  plainServer: boolean
  plainUsername: string
  plainPassword: string
  /** ZMQ_ROUTER_MANDATORY: the send callback gets EHOSTUNREACH for an unknown routing id. */
  mandatory: boolean
  /**
   * Who this server admits (an extension; libzmq asks a ZAP handler): PLAIN `users` (name -> password; without
   * them a PLAIN server admits nobody, as libzmq with no handler), CURVE `curveClients` (public keys; without
   * them any client with a valid handshake, as libzmq).
   */
  authorize(who: {
    users?: Record<string, string>
    curveClients?: Array<string | Buffer>
    /**
     * Asked synchronously during each handshake; when given, it alone decides. Answer `true` or a user id
     * to admit; `false`, `null`, `undefined` or 400 to refuse; 300 (ZAP's temporary failure) or 500.
     */
    handler?: (request: AuthRequest) => boolean | string | 300 | 400 | 500 | null | undefined
  }): this
  /** The engine's counters (an extension). */
  stats(): SocketStats
  /** ZMQ_LAST_ENDPOINT: the last bound endpoint, resolved (real port after `tcp://host:*`). */
  readonly last_endpoint: string
  readonly lastEndpoint: string
  /** Binds in the background; `cb(err)` when done ('bind' is emitted with the resolved endpoint). */
  bind(addr: string, cb?: (err?: SocketError | null) => void): this
  /** Binds now (blocks the JS thread only for the bind). Throws with a code on failure. */
  bindSync(addr: string): this
  unbind(addr: string, cb?: (err?: SocketError | null) => void): this
  unbindSync(addr: string): this
  /** Connects in the background, reconnecting after the peer restarts. Throws EINVAL for a malformed endpoint. */
  connect(addr: string): this
  disconnect(addr: string): this
  /**
   * Sends one frame or an array of frames; with `ZMQ_SNDMORE` in `flags` the frames wait for the next send.
   * Returns a Promise (resolved once queued) when no callback is given. Throws ENOTSOCK on a closed socket
   * and EINVAL for frames of the wrong type when no callback is given.
   */
  send(msg: Frame | Frame[], flags?: number, cb?: (err?: SocketError) => void): Promise<void>
  send(msg: Frame | Frame[], cb: (err?: SocketError) => void): Promise<void>
  subscribe(filter: string | Buffer): this
  unsubscribe(filter: string | Buffer): this
  /** Stops reading the socket (backpressure reaches the peer); messages already received are held. */
  pause(): this
  resume(): this
  /** Closes; queued messages are flushed for at most ZMQ_LINGER, then 'close' is emitted. */
  close(cb?: () => void): this
  /** An option by number (ZMQ_*) or by name (`'backlog'`); see `zmq.options`. */
  setsockopt(option: number | string, value: string | Buffer | number | boolean): this
  getsockopt(option: number | string): string | Buffer | number
  /** While paused: the next message, or null when none is ready (a null asks for more). */
  read(): Buffer[] | null
  /** As net.Socket's: an unref'd socket does not keep the process alive. */
  unref(): this
  ref(): this
  /**
   * Emits the engine's peer events (zmq.events) as `(value, endpoint)`: the fd, the retry pause in ms
   * ('connect_retry') or the errno ('bind_error', 'accept_error'). Events come as they happen; the
   * arguments of the old module's polling are checked and need no effect.
   */
  monitor(interval?: number, numOfEvents?: number): this
  /** Stops monitor events. */
  unmonitor(): this
  /** Every other option of the old module's table is also a property (`sock.backlog = 10`). */
  [option: string]: unknown
  [Symbol.asyncIterator](): AsyncIterator<Buffer[]>
  on(event: 'message', listener: (...frames: Buffer[]) => void): this
  on(event: 'bind' | 'unbind', listener: (endpoint: string) => void): this
  on(event: 'error', listener: (err: SocketError) => void): this
  on(event: 'close', listener: () => void): this
  on(event: MonitorEventName, listener: (value: number, endpoint: string) => void): this
}

/** The monitor events of `socket.monitor()`, as `zmq.events` names them. */
export type MonitorEventName = 'connect' | 'connect_delay' | 'connect_retry' | 'listen' | 'bind_error' | 'accept' | 'accept_error' | 'close' | 'close_error' | 'disconnect'

/**
 * The old module's zmq.proxy for ROUTER/DEALER, XREP/XREQ, PULL/PUSH, PUSH/PULL and XPUB/XSUB
 * (frontend/backend); throws 'wrong socket order to proxy' otherwise. Between sockets of this
 * package it runs in the engine (the sockets stop emitting 'message'); with a socket of another
 * implementation it runs on 'message' events.
 */
export declare function proxy(frontend: Socket, backend: Socket, capture?: Socket): void

/** A new socket; `options` are set as properties first. Throws EINVAL for an unknown or unsupported type. */
export declare function socket(type: SocketTypeName | number, options?: SocketOptions): Socket
export declare function createSocket(type: SocketTypeName | number, options?: SocketOptions): Socket
/** Socket type names to ZMQ_* numbers. */
export declare const types: Readonly<Record<string, number>>

export declare const ZMQ_PAIR: 0
export declare const ZMQ_PUB: 1
export declare const ZMQ_SUB: 2
export declare const ZMQ_REQ: 3
export declare const ZMQ_REP: 4
export declare const ZMQ_DEALER: 5
export declare const ZMQ_XREQ: 5
export declare const ZMQ_ROUTER: 6
export declare const ZMQ_XREP: 6
export declare const ZMQ_PULL: 7
export declare const ZMQ_PUSH: 8
export declare const ZMQ_XPUB: 9
export declare const ZMQ_XSUB: 10
export declare const ZMQ_STREAM: 11
export declare const ZMQ_DONTWAIT: 1
export declare const ZMQ_NOBLOCK: 1
export declare const ZMQ_SNDMORE: 2
export declare const ZMQ_POLLIN: 1
export declare const ZMQ_POLLOUT: 2
export declare const ZMQ_POLLERR: 4
export declare const ZMQ_AFFINITY: 4
export declare const ZMQ_IDENTITY: 5
export declare const ZMQ_ROUTING_ID: 5
export declare const ZMQ_SUBSCRIBE: 6
export declare const ZMQ_UNSUBSCRIBE: 7
export declare const ZMQ_RATE: 8
export declare const ZMQ_RECOVERY_IVL: 9
export declare const ZMQ_SNDBUF: 11
export declare const ZMQ_RCVBUF: 12
export declare const ZMQ_RCVMORE: 13
export declare const ZMQ_FD: 14
export declare const ZMQ_EVENTS: 15
export declare const ZMQ_TYPE: 16
export declare const ZMQ_LINGER: 17
export declare const ZMQ_RECONNECT_IVL: 18
export declare const ZMQ_BACKLOG: 19
export declare const ZMQ_RECONNECT_IVL_MAX: 21
export declare const ZMQ_MAXMSGSIZE: 22
export declare const ZMQ_SNDHWM: 23
export declare const ZMQ_RCVHWM: 24
export declare const ZMQ_MULTICAST_HOPS: 25
export declare const ZMQ_RCVTIMEO: 27
export declare const ZMQ_SNDTIMEO: 28
export declare const ZMQ_LAST_ENDPOINT: 32
export declare const ZMQ_ROUTER_MANDATORY: 33
export declare const ZMQ_TCP_KEEPALIVE: 34
export declare const ZMQ_TCP_KEEPALIVE_CNT: 35
export declare const ZMQ_TCP_KEEPALIVE_IDLE: 36
export declare const ZMQ_TCP_KEEPALIVE_INTVL: 37
export declare const ZMQ_IMMEDIATE: 39
export declare const ZMQ_XPUB_VERBOSE: 40
export declare const ZMQ_IPV6: 42
export declare const ZMQ_MECHANISM: 43
export declare const ZMQ_PLAIN_SERVER: 44
export declare const ZMQ_PLAIN_USERNAME: 45
export declare const ZMQ_PLAIN_PASSWORD: 46
export declare const ZMQ_CURVE_SERVER: 47
export declare const ZMQ_CURVE_PUBLICKEY: 48
export declare const ZMQ_CURVE_SECRETKEY: 49
export declare const ZMQ_CURVE_SERVERKEY: 50
export declare const ZMQ_REQ_CORRELATE: 52
export declare const ZMQ_REQ_RELAXED: 53
export declare const ZMQ_HANDSHAKE_IVL: 66
export declare const ZMQ_HEARTBEAT_IVL: 75
export declare const ZMQ_HEARTBEAT_TTL: 76
export declare const ZMQ_HEARTBEAT_TIMEOUT: 77
export declare const ZMQ_XPUB_VERBOSER: 78
export declare const ZMQ_NULL: 0
export declare const ZMQ_PLAIN: 1
export declare const ZMQ_CURVE: 2
/** A fresh CURVE key pair in Z85, in the old `zmq` module's shape. */
export declare function curveKeypair(): { public: string; secret: string }

/** The libzmq version whose socket semantics are implemented ('4.3.5'). */
export declare const version: string
/** The old module's option table: property name -> option number. */
export declare const options: Readonly<Record<string, number>>
/** Monitor event numbers -> event names. */
export declare const events: Readonly<Record<number, string>>
export declare const STATE_READY: 0
export declare const STATE_BUSY: 1
export declare const STATE_CLOSED: 2
export declare const ZMQ_CAN_DISCONNECT: 1
export declare const ZMQ_CAN_UNBIND: 1
export declare const ZMQ_CAN_MONITOR: 1
export declare const ZMQ_CAN_SET_CTX: 1
/** Process-wide limits, as libzmq's context: 1023 sockets by default (EMFILE past it), 1 I/O thread. */
export declare const Context: {
  getMaxSockets(): number
  setMaxSockets(n: number): void
  getMaxThreads(): number
  setMaxThreads(n: number): void
}

export declare function nativeVersion(): string

// ---------------------------------------------------------------- zmqbus node

/** Options of `createNode()`; numbers may also be given as numeric strings. */
export interface NodeOptions {
  /** 0..99 (default 0); a higher priority wins elections. */
  election_priority?: number | string
  /** ms an election collects candidates (default 2000). */
  election_timeout?: number | string
  /** ms between the master's heartbeats and every node's liveness check (default 2000). */
  heartbeat_period?: number | string
  /** ms without a heartbeat before an election starts (default 6000). */
  heartbeat_timeout?: number | string
  /** IPv4 multicast group, or '255.255.255.255' for subnet broadcast (default '239.1.2.3', the
   *  group every original zmqbus node uses; the original README says '239.1.2.4'). */
  multicast_addr?: string
  /** UDP port of discovery (default 45555). */
  multicast_port?: number | string
  /** IPv4 address of the interface for discovery and the advertised forwarder. Default: the
   *  ZMQBUS_MULTICAST_INTERFACE environment variable, else the host's primary address.
   *  '127.0.0.1' keeps the cluster on this host (multicast TTL 0). */
  multicast_interface?: string
  /** Publishes kept while no master is reachable (default 10000); beyond it they are dropped and counted. */
  publish_buffer?: number | string
  /** ms allowed to connect to an elected forwarder before it counts as unreachable (default 1000). */
  connect_timeout?: number | string
  /** ms of publishes sent again through the next master when the master crashes (default 0 = off;
   *  > 0 gives at-least-once delivery across a crash, duplicates possible). */
  resend_window?: number | string
  /** How 'message' hands over a message: 'array' (default, the README's form: one array whose
   *  element 0 is the channel) or 'spread' (one argument per frame, as the original code emits). */
  message_args?: 'array' | 'spread'
  /** CURVE on the data path: the cluster's key pair (every node may serve), optionally `serverKey` and an
   *  allow-list of client keys. Nodes of the original library cannot join a secured cluster. */
  curve?: { secretKey: CurveKey; publicKey?: CurveKey; serverKey?: CurveKey; clients?: CurveKey[] }
  /** PLAIN on the data path: every node logs in with this user, and serves only it. */
  plain?: { username: string; password?: string }
  /** The cluster's shared secret (at least 16 bytes; default: the ZMQBUS_CLUSTER_KEY environment variable).
   *  Every discovery/election datagram is signed with an HMAC-SHA256 derived from it and checked (30 s replay
   *  window, exact replays dropped); forged, replayed, stale and unsigned datagrams are dropped and counted
   *  (`stats().refusedDatagramsByReason`). The data path uses CURVE with a key pair derived from it, so it
   *  cannot be combined with `curve` or `plain`. Nodes of the original zmqbus cannot join a keyed cluster: they
   *  ignore its datagrams (not JSON to them), and mixed clusters work only without a key. */
  cluster_key?: string
}

/** Why discovery datagrams were refused: over 8 KiB, not a known datagram, unsigned while this node has a
 *  key, signed while it has none, a bad signature (wrong key, altered), outside the 30 s window, seen before. */
export type RefusalReason = 'too_large' | 'malformed' | 'unsigned' | 'signed' | 'forged' | 'stale' | 'replayed'

/** One message: frame 0 is the channel, then one Buffer per published argument. */
export type BusMessage = Buffer[]

/** Why messages were lost: publish buffer overflow, JS too slow to take deliveries, a full iterator queue. */
export type DropReason = 'publish' | 'receive' | 'iterator'

/** A publishable argument: strings and bytes as is, numbers/booleans as String(x), objects as JSON. */
export type BusArg = string | Buffer | Uint8Array | number | boolean | null | undefined | Json | object

export interface MessageIterator extends AsyncIterableIterator<BusMessage> {
  /** Ends the iteration and drops its subscriptions (what `break` in `for await` does). */
  return(): Promise<IteratorResult<BusMessage>>
}

/** One listening side of a node's forwarder. */
export interface ForwarderSideStats {
  accepted: number
  active: number
  handshaking: number
  handshakeEof: number
  acceptErrors: number
  /** Connections closed by us, by reason (`frame_too_large`, `unknown_mechanism`, ...). */
  refused: Record<string, number>
  refusedTotal: number
}

export declare class Node extends EventEmitter {
  /** This node's id: 10 digits, (99 - priority) then a random part; the smallest id wins. */
  readonly id: string
  /** Endpoints of this node's forwarder as advertised. */
  readonly subAddr: string
  readonly pubAddr: string
  /** The elected master's id, or null before the first election. */
  readonly master: string | null
  readonly isMaster: boolean
  readonly isReady: boolean
  readonly stopped: boolean
  /** Messages lost in total, and by reason; every loss is also a 'drop' event. */
  readonly dropped: number
  readonly drops: Record<DropReason, number>
  /** Receives messages whose channel equals one of `channels` exactly; '*' means every channel. */
  subscribe(...channels: string[]): void
  unsubscribe(...channels: string[]): void
  /** Publishes [channel, ...args] cluster-wide; buffered (bounded) before 'ready' and during failovers. */
  publish(channel: string, ...args: BusArg[]): void
  /** `for await (const msg of node.messages('equity'))`; default channel '*'; queue bound `limit` (default 10000). */
  messages(...channels: Array<string | { limit?: number }>): MessageIterator
  /** Counters and gauges of this node; `forwarder`: this node's forwarder per side (`sub`, `pub`):
   *  connections and refusals by reason (null when it is not running). */
  stats(): {
    published: number
    received: number
    elections: number
    refusedDatagrams: number
    refusedDatagramsByReason: Record<RefusalReason, number>
    dropped: { publish: number; receive: number; iterator: number; total: number }
    master: string | null
    isMaster: boolean
    ready: boolean
    subscriptions: number
    forwarder: { sub: ForwarderSideStats; pub: ForwarderSideStats; droppedFull: number } | null
  }
  /** Leaves the cluster; a stopped node cannot be restarted or used (ERR_NODE_STOPPED). */
  stop(cb?: () => void): Promise<void>
  on(event: 'ready' | 'stop', listener: () => void): this
  on(event: 'message', listener: (msg: BusMessage) => void): this
  /** With `message_args: 'spread'`: the channel, then one Buffer per published argument. */
  on(event: 'message', listener: (channel: Buffer, ...args: Buffer[]) => void): this
  on(event: 'elected', listener: (master: { id: string; isMe: boolean }) => void): this
  on(event: 'drop', listener: (count: number, reason: DropReason) => void): this
  on(event: 'error', listener: (err: Error) => void): this
}

/** Starts a zmqbus node. Invalid options throw a TypeError or RangeError naming the option and value. */
export declare function createNode(options?: NodeOptions): Node

/** busmq-compatible queues on Redis (also `require('zmqbus/busmq')`). */
export declare const busmq: typeof import('./busmq')

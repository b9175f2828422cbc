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
  onStart?: () => void
  onStop?: () => void
}

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
  write(data: Json, cb?: (err?: Error | null) => void): boolean
  end(data?: Json, cb?: () => void): this
  reject(err?: Json): void
  error(err: Json): void
  heartbeat(): void
  active(): boolean
}

export declare class Worker extends EventEmitter {
  constructor(broker: string, service: string, conf?: WorkerConf)
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
  autostart?: boolean
  heartbeat?: number
  reconnect?: number
  timeout?: number
  retry?: number
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
  constructor(broker: string, conf?: ClientConf)
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
  /** IPv4 multicast group, or '255.255.255.255' for subnet broadcast (default '239.1.2.4'). */
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
}

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
  /** Leaves the cluster; a stopped node cannot be restarted or used (ERR_NODE_STOPPED). */
  stop(cb?: () => void): Promise<void>
  on(event: 'ready' | 'stop', listener: () => void): this
  on(event: 'message', listener: (msg: BusMessage) => void): this
  on(event: 'elected', listener: (master: { id: string; isMe: boolean }) => void): this
  on(event: 'drop', listener: (count: number, reason: DropReason) => void): this
  on(event: 'error', listener: (err: Error) => void): this
}

/** Starts a zmqbus node. Invalid options throw a TypeError or RangeError naming the option and value. */
export declare function createNode(options?: NodeOptions): Node
